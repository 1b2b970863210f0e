"""A tool's result from another process (an MCP server, ``TOOLS_MCP_URL``), checked where it
enters and rebuilt by the tools' own code.

A server may answer anything. What reaches a model, an answer or a trace is only what our own
tools would have returned: each field by its kind through the checks every source shares
(``backends/_checked.py`` on ``core/inbound.py``), the id re-checked against this process's
``ORDER_ID_PATTERN`` and for the order asked about, the whole bounded in size and depth, and
the result built again by ``tools.py``'s functions, so fields a tool does not return (card
data: ``card_number``, ``cvv``) never pass. A result that does not fit is :class:`Refused`;
the MCP client makes it that tool's ``unavailable`` error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..backends import _checked as checked
from ..core import inbound
from ..core.inbound import Refused
from ..core.order_ids import OrderIdPattern
from .tools import (
    not_shipped,
    order_result,
    payment_result,
    shipment_result,
    stock_entry,
    unknown_stock,
)

__all__ = ["FAILED", "Refused", "checked_result"]

FAILED = "The lookup failed."  # an error result without a message of its own


def checked_result(
    name: str, raw: Any, pattern: OrderIdPattern, args: Mapping[str, Any]
) -> dict[str, Any]:
    """``raw``, the result of the tool ``name`` called with ``args``, in the tool's own shape,
    or ``Refused``."""
    inbound.bounded(raw, "the result")
    if not isinstance(raw, Mapping):
        raise Refused("the result is not an object")
    if raw.get("status") == "error":
        return {"status": "error", "error_message": inbound.message(raw.get("error_message"), FAILED)}
    if raw.get("status") != "success":
        raise Refused("the result is neither a success nor an error")
    build = _BUILDERS.get(name)
    if build is None:
        raise Refused(f"no tool {inbound.shown_name(name)} here")
    return build(raw, pattern, args)


def _asked(args: Mapping[str, Any], pattern: OrderIdPattern) -> str:
    try:
        return pattern.parse(str(args.get("order_id", "")))
    except ValueError:  # the server answered for an id that is not one: it should have refused
        raise Refused("a success for an id that is not one") from None


def _order(raw: Mapping[str, Any], pattern: OrderIdPattern, args: Mapping[str, Any]) -> dict:
    fields = inbound.fields(raw, "", ("order_id", "order_status", "placed_date", "items"), ())
    order = checked.order(
        {**fields, "status": fields.get("order_status")}, pattern, _asked(args, pattern)
    )
    if raw.get("item_count") != len(order.items):
        raise Refused("item_count: not the number of items")
    return order_result(order)


def _shipping(raw: Mapping[str, Any], pattern: OrderIdPattern, args: Mapping[str, Any]) -> dict:
    order_id = checked.keyed(raw, pattern, _asked(args, pattern))
    fields = {k: v for k, v in raw.items() if v is not None}
    shipment = checked.shipment({**fields, "status": fields.get("shipment_status")}, order_id)
    unshipped = (shipment.carrier, shipment.tracking_number, shipment.eta) == (None, None, None)
    if shipment.status == "not_shipped" and unshipped and not shipment.shipped_date:
        return not_shipped(order_id)
    return shipment_result(shipment)


def _inventory(raw: Mapping[str, Any], pattern: OrderIdPattern, args: Mapping[str, Any]) -> dict:
    items = raw.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= inbound.MAX_ITEMS:
        raise Refused(f"items: must be a list of 1 to {inbound.MAX_ITEMS} items")
    entries = []
    for n, item in enumerate(items):
        where = f"items[{n}]"
        fields = inbound.fields(item, where, ("sku", "name", "on_hand"), ("sku", "name"))
        if fields.get("on_hand") is None:
            sku = inbound.code(fields["sku"], f"{where}.sku")
            entries.append(unknown_stock(sku, inbound.text(fields["name"], f"{where}.name")))
        else:
            entries.append(stock_entry(checked.stock(fields, where)))
    if args.get("sku"):
        sku = str(args["sku"]).strip(" ").upper()
        if len(entries) != 1 or entries[0]["sku"].upper() != sku:
            raise Refused("items: not the SKU asked for")
        return {"status": "success", "items": entries}
    order_id = checked.keyed(raw, pattern, _asked(args, pattern))
    return {"status": "success", "order_id": order_id, "items": entries}


def _payment(raw: Mapping[str, Any], pattern: OrderIdPattern, args: Mapping[str, Any]) -> dict:
    order_id = checked.keyed(raw, pattern, _asked(args, pattern))
    fields = {**raw, "status": raw.get("payment_status")}
    return payment_result(checked.payment(fields, order_id))


_BUILDERS = {
    "get_order_status": _order,
    "get_shipping_details": _shipping,
    "check_inventory": _inventory,
    "get_payment_status": _payment,
}
