"""milkio-gen: typed RPC with streams, code-generated from plain async functions.

```python
from milkio_gen import Context, define_api

@define_api(meta={})
async def action(params: Params, context: Context) -> AsyncIterator[str]:
    yield f"Hello, {params.name}!"
```
"""

from .api import ApiDefinition, define_api
from .channels import Channel
from .context import Context
from .fails import FailCode, FailCodes, Reject
from .hooks import Hooks, Outcome
from .meta import ApiMeta
from .tracked import Tracked
from .types import BigInt

__all__ = [
    "ApiDefinition",
    "ApiMeta",
    "BigInt",
    "Channel",
    "Context",
    "FailCode",
    "FailCodes",
    "Hooks",
    "Outcome",
    "Reject",
    "Tracked",
    "define_api",
]
__version__ = "0.1.0"
