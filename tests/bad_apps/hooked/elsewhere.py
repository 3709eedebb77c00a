from .hooks import AppContext, hooks


@hooks.before_execute
def audit(context: AppContext) -> None:
    pass
