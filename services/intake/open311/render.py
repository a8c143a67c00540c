"""Open311 documents as JSON or as the spec's XML: one function per format, the same data.

XML follows GeoReport v2's element names: a list answer is a root element (`services`,
`service_requests`, `errors`) holding one element per item (`service`, `request`, `error`);
a list inside a document is its plural element holding singular ones (`attributes` →
`attribute`, `values` → `value`, `endpoints` → `endpoint`, `formats` → `format`); booleans
are `true`/`false`, a missing value an empty element. JSON is the same data as the spec
shows it (lists as arrays, `null` for missing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from xml.etree import ElementTree

from pydantic import BaseModel

JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"

# Root and item element of each list answer.
LIST_ELEMENTS = {
    "services": ("services", "service"),
    "requests": ("service_requests", "request"),
    "errors": ("errors", "error"),
}
_SINGULAR = {
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}


def as_data(document: BaseModel | Sequence[BaseModel]) -> Any:
    if isinstance(document, BaseModel):
        return document.model_dump(mode="json")
    return [item.model_dump(mode="json") for item in document]


def to_xml(document: BaseModel | Sequence[BaseModel], root: str, item: str | None = None) -> bytes:
    """`root` names the document element; `item` the element of each entry of a list."""
    element = ElementTree.Element(root)
    data = as_data(document)
    if isinstance(data, list):
        assert item is not None, "a list needs an item element name"
        for entry in data:
            _fill(ElementTree.SubElement(element, item), entry)
    else:
        _fill(element, data)
    return ElementTree.tostring(element, encoding="utf-8", xml_declaration=True)


def _fill(element: ElementTree.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _fill(ElementTree.SubElement(element, key), inner)
    elif isinstance(value, list):
        child = _SINGULAR.get(element.tag, "item")
        for inner in value:
            _fill(ElementTree.SubElement(element, child), inner)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)
