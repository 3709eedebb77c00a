from milkio_gen import Hooks

more_hooks = Hooks()
