ROOTS=("helm/",)
def generate(model):
    return []
