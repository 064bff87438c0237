"""The one serializer of every result block, and its forward-compatibility rule.

Rule: within a schema version (`vptadvisor.analyze/1`, `vptadvisor.pilot/1`) fields are only ever
added. A reader keeps the keys it does not know (pydantic `extra="allow"`) and writes them back, so a
result read by an older vptadvisor round-trips unchanged; a field whose type changes bumps the
version. `to_dict()` is exactly the documented JSON; `json_schema()` publishes it.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

B = TypeVar("B", bound="Block")


class Block(BaseModel):
    """A typed JSON object of a result."""

    model_config = ConfigDict(extra="allow", validate_assignment=False, arbitrary_types_allowed=False)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="python")

    @classmethod
    def from_dict(cls: type[B], data: dict[str, Any]) -> B:
        return cls.model_validate(data)

    @property
    def extra(self) -> dict[str, Any]:
        """The keys this version does not know (kept, and written back by to_dict)."""
        return dict(self.__pydantic_extra__ or {})
