ROOTS=("kustomize/",)
def generate(model):
    return []
