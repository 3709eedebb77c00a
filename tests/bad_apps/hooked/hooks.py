from typing import Literal

from milkio_gen import ApiMeta, Context, Hooks


class Meta(ApiMeta):
    auth: Literal["public", "user"] = "public"


class AppContext(Context[Meta]):
    pass


hooks = Hooks(context=AppContext)

from . import elsewhere  # noqa: E402, F401


@hooks.after_execute
def report(context: AppContext) -> None:
    pass
