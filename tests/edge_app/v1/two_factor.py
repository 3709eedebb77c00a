from milkio_gen import Reject, define_api

from ..codes import fail_codes


@define_api(path="v1/2fa")
async def action() -> str:
    """A path segment that starts with a digit, failing with a code that does too."""
    raise Reject("2FA_REQUIRED", None)


__all__ = ["fail_codes"]
