"""ModuleList and ModuleDict: modules held in a list or dict, registered (parameters, state_dict) under their
index or key, as in PyTorch. Neither has a forward: the owning module decides how to call them."""
from .module import Module


def _check_module(module, where):
    if not isinstance(module, Module):
        raise TypeError(f"{where} takes Modules, got {type(module).__name__}")
    return module


class ModuleList(Module):
    def __init__(self, modules=None):
        super().__init__()
        for module in modules or ():
            self.append(module)

    def append(self, module):
        setattr(self, str(len(self)), _check_module(module, "ModuleList"))
        return self

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def __getitem__(self, index):
        modules = list(self._modules.values())
        return ModuleList(modules[index]) if isinstance(index, slice) else modules[index]

    def __setitem__(self, index, module):
        setattr(self, str(range(len(self))[index]), _check_module(module, "ModuleList"))

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleDict(Module):
    def __init__(self, modules=None):
        super().__init__()
        self.update(modules or {})

    def __setitem__(self, key, module):
        if not isinstance(key, str) or not key.isidentifier():
            raise ValueError(f"ModuleDict keys must be identifiers (they name parameters), got {key!r}")
        if key in Module.__dict__ or key in type(self).__dict__:
            raise ValueError(f"ModuleDict key {key!r} would hide a method of the module")
        setattr(self, key, _check_module(module, "ModuleDict"))

    def __getitem__(self, key):
        return self._modules[key]

    def __delitem__(self, key):
        delattr(self, key)

    def update(self, modules):
        for key, module in (modules.items() if hasattr(modules, "items") else modules):
            self[key] = module

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()
