# One parameterised image for every NetShop service: NETSHOP_SERVICE (set by the manifests from the
# model) selects the role at start; `serve` runs it. Non-root, slim, multi-stage, no build tools at run time.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml ./
COPY model ./model
COPY netshop ./netshop
COPY generators ./generators
COPY services ./services
RUN python -m venv /opt/netshop \
 && /opt/netshop/bin/pip install --no-cache-dir . \
 && find /opt/netshop -name '__pycache__' -prune -exec rm -rf {} +

FROM ${PYTHON_IMAGE}
# APP_UID must equal generators.k8s.APP_UID: the manifests run the pods as this user.
ARG APP_UID=10001
ENV PATH=/opt/netshop/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NETSHOP_RUNTIME=kubernetes \
    NETSHOP_BIND=0.0.0.0
RUN groupadd --system --gid "${APP_UID}" netshop \
 && useradd --system --uid "${APP_UID}" --gid netshop --no-create-home --shell /usr/sbin/nologin netshop
COPY --from=build /opt/netshop /opt/netshop
USER ${APP_UID}:${APP_UID}
WORKDIR /tmp
ENTRYPOINT ["python", "-m", "services"]
CMD ["serve"]
