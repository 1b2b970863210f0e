import json
import re

import pytest

from order_tracking.tools import (
    check_inventory,
    get_order_status,
    get_payment_status,
    get_shipping_details,
)

ALL_TOOLS = (get_order_status, get_shipping_details, get_payment_status)


def test_order_1001_matches_the_article():
    assert get_order_status("ORD-1001") == {
        "status": "success",
        "order_id": "ORD-1001",
        "order_status": "shipped",
        "placed_date": "2024-01-15",
        "item_count": 2,
        "items": [
            {"sku": "SKU-APL-01", "name": "Wireless earbuds", "quantity": 1},
            {"sku": "SKU-KBD-07", "name": "Mechanical keyboard", "quantity": 1},
        ],
    }
    assert get_shipping_details("ORD-1001") == {
        "status": "success",
        "order_id": "ORD-1001",
        "shipment_status": "in_transit",
        "carrier": "UPS",
        "tracking_number": "1Z999AA1012345678",
        "shipped_date": "2024-01-16",
        "eta": "2024-01-18",
    }
    assert get_payment_status("ORD-1001") == {
        "status": "success",
        "order_id": "ORD-1001",
        "payment_status": "captured",
        "amount": 299.99,
        "currency": "USD",
    }


def test_order_1002_is_processing_and_not_shipped():
    assert get_order_status("ORD-1002")["order_status"] == "processing"
    shipping = get_shipping_details("ORD-1002")
    assert shipping["status"] == "success"
    assert shipping["shipment_status"] == "not_shipped"
    assert shipping["carrier"] is None and shipping["tracking_number"] is None
    assert get_payment_status("ORD-1002")["payment_status"] == "authorized"


def test_order_1003_was_delivered_by_fedex():
    assert get_order_status("ORD-1003")["order_status"] == "delivered"
    shipping = get_shipping_details("ORD-1003")
    assert (shipping["carrier"], shipping["shipment_status"]) == ("FedEx", "delivered")
    assert shipping["tracking_number"]
    assert shipping["delivered_date"] == "2024-01-09"


@pytest.mark.parametrize(
    "sku, on_hand, state, reorder",
    [
        ("SKU-APL-01", 150, "in_stock", False),
        ("SKU-KBD-07", 3, "low_stock", True),
        ("SKU-MON-22", 0, "out_of_stock", True),
    ],
)
def test_every_sku(sku, on_hand, state, reorder):
    (item,) = check_inventory(sku=sku)["items"]
    assert (item["sku"], item["on_hand"], item["stock_state"], item["reorder_recommended"]) == (
        sku,
        on_hand,
        state,
        reorder,
    )


def test_inventory_for_an_order_checks_each_of_its_skus():
    result = check_inventory(order_id="ord-1001")
    assert result["order_id"] == "ORD-1001"
    assert [i["sku"] for i in result["items"]] == ["SKU-APL-01", "SKU-KBD-07"]


def test_ids_match_case_insensitively():
    assert get_order_status(" ord-1003 ")["order_id"] == "ORD-1003"
    assert check_inventory(sku="sku-kbd-07")["items"][0]["sku"] == "SKU-KBD-07"


@pytest.mark.parametrize("tool", ALL_TOOLS)
def test_unknown_order_is_not_found(tool):
    assert tool("ORD-9999") == {"status": "error", "error_message": "Order ORD-9999 not found."}


def test_unknown_sku_and_missing_arguments_are_errors():
    assert check_inventory(sku="SKU-NOPE-1") == {
        "status": "error",
        "error_message": "SKU SKU-NOPE-1 not found.",
    }
    assert check_inventory()["status"] == "error"
    assert check_inventory(order_id="ORD-9999")["error_message"] == "Order ORD-9999 not found."


@pytest.mark.parametrize("bad", [None, 42, "", "   ", ["ORD-1001"], "ORD-" + "1" * 100])
@pytest.mark.parametrize("tool", ALL_TOOLS)
def test_tools_refuse_malformed_arguments(tool, bad):
    result = tool(bad)
    assert result["status"] == "error"
    assert result["error_message"]


def test_payment_tool_never_returns_card_data():
    for order_id in ("ORD-1001", "ORD-1002", "ORD-1003"):
        text = json.dumps(get_payment_status(order_id))
        assert "card" not in text
        assert re.search(r"\d{12,}", text) is None  # no card number
        assert "/2" not in text  # no expiry date
