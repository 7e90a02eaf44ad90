"""How the stages' work runs: worker processes, the model host, memory given back."""
