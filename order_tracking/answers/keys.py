"""The names an answer may give a value under, and the tool fields each one means.

A key is normalised (``structured.norm_key``: ``Tracking No.`` -> ``tracking_no``) and looked
up here: its *kind* says how its value is read (a date, an amount, a status…), its *fields*
which tool-result fields must hold that value. A JSON key that is a tool's own field name is
also compared with that field exactly (``check``).
"""

from __future__ import annotations

__all__ = ["DATE_FIELDS", "KEYS", "MONEY_WORDS", "STATUS_FIELDS"]

STATUS_FIELDS = ("order_status", "shipment_status", "payment_status", "stock_state", "status")
DATE_FIELDS = ("placed_date", "shipped_date", "eta", "delivered_date")
# Words in a field's name that make its number an amount of money (``amount``, ``total``…),
# unless the name also counts things (``total_items``).
MONEY_WORDS = ("amount", "price", "total", "cost", "paid", "refund", "charge", "balance", "fee")
COUNT_WORDS = ("count", "items", "quantity", "qty", "units", "on_hand", "stock")


def _many(names: str, kind: str, *fields: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {name: (kind, fields) for name in names.split()}


KEYS: dict[str, tuple[str, tuple[str, ...]]] = {
    **_many("status state", "status", *STATUS_FIELDS),
    **_many("order_status order_state fulfilment_status fulfillment_status", "status",
            "order_status"),
    **_many("shipment_status shipping_status delivery_status shipment shipping", "status",
            "shipment_status"),
    **_many("payment_status payment payment_state", "status", "payment_status"),
    **_many("stock_state stock_status availability", "status", "stock_state"),
    **_many("eta estimated_delivery expected_delivery estimated_arrival expected arrival "
            "expected_arrival arriving delivery_eta estimated_delivery_date", "date", "eta"),
    **_many("delivery_date delivery", "date", "eta", "delivered_date"),
    **_many("delivered delivered_date delivered_on", "date", "delivered_date"),
    **_many("shipped shipped_date shipped_on ship_date dispatched", "date", "shipped_date"),
    **_many("placed placed_date placed_on order_date ordered_on date_placed", "date",
            "placed_date"),
    **_many("date", "date", *DATE_FIELDS),
    **_many("amount total price cost amount_paid paid charged total_amount order_total "
            "refund refund_amount payment_amount subtotal", "amount", "amount"),
    **_many("currency", "currency", "currency"),
    **_many("carrier shipper courier shipping_carrier", "carrier", "carrier"),
    **_many("tracking tracking_number tracking_no tracking_id tracking_code tracking_num",
            "reference", "tracking_number"),
    **_many("on_hand stock in_stock on_hand_qty available quantity_on_hand inventory "
            "stock_level units_on_hand qty_on_hand units_in_stock stock_on_hand "
            "available_units qty_available quantity_available", "stock", "on_hand"),
    **_many("items item_count number_of_items num_items items_count total_items item_s",
            "items", "lines", "total"),
    **_many("line_items lines products", "items", "lines"),
    **_many("total_quantity total_units units", "items", "total"),
    **_many("quantity qty quantity_ordered", "items", "quantity"),
}  # fmt: skip
