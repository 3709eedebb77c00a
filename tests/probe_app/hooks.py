"""The probe app's meta model, declared through its context class; it registers no hooks."""

from typing import Literal

from milkio_gen import ApiMeta, Context, Hooks


class Meta(ApiMeta):
    auth: Literal["none", "user"] = "user"


class ProbeContext(Context[Meta]):
    pass


hooks = Hooks(context=ProbeContext)
