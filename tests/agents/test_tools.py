"""The four tools over the article's data, from every source (``article_backends``: the
mock, an SQLite database imported from the article's data, the reference API over HTTP)."""

import json
import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from order_tracking.agents.tools import TOOL_NAMES, build_tools
from order_tracking.backends import mock_backends
from order_tracking.core.order_ids import OrderIdPattern

ORDER_TOOLS = ("get_order_status", "get_shipping_details", "get_payment_status")


@pytest.fixture
def tools(article_backends):
    return build_tools(article_backends)


async def test_order_1001_matches_the_article(tools):
    assert await tools["get_order_status"]("ORD-1001") == {
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
    assert await tools["get_shipping_details"]("ORD-1001") == {
        "status": "success",
        "order_id": "ORD-1001",
        "shipment_status": "in_transit",
        "carrier": "UPS",
        "tracking_number": "1Z999AA1012345678",
        "shipped_date": "2024-01-16",
        "eta": "2024-01-18",
    }
    assert await tools["get_payment_status"]("ORD-1001") == {
        "status": "success",
        "order_id": "ORD-1001",
        "payment_status": "captured",
        "amount": 299.99,
        "currency": "USD",
    }


async def test_order_1002_is_processing_and_not_shipped(tools):
    assert (await tools["get_order_status"]("ORD-1002"))["order_status"] == "processing"
    assert await tools["get_shipping_details"]("ORD-1002") == {
        "status": "success",
        "order_id": "ORD-1002",
        "shipment_status": "not_shipped",
        "carrier": None,
        "tracking_number": None,
        "eta": None,
    }
    assert (await tools["get_payment_status"]("ORD-1002"))["payment_status"] == "authorized"


async def test_order_1003_was_delivered_by_fedex(tools):
    assert (await tools["get_order_status"]("ORD-1003"))["order_status"] == "delivered"
    assert await tools["get_shipping_details"]("ORD-1003") == {
        "status": "success",
        "order_id": "ORD-1003",
        "shipment_status": "delivered",
        "carrier": "FedEx",
        "tracking_number": "771234567890",
        "shipped_date": "2024-01-06",
        "delivered_date": "2024-01-09",
    }
    assert (await tools["get_payment_status"]("ORD-1003"))["amount"] == 89.5


@pytest.mark.parametrize(
    "sku, on_hand, state, reorder",
    [
        ("SKU-APL-01", 150, "in_stock", False),
        ("SKU-KBD-07", 3, "low_stock", True),
        ("SKU-MON-22", 0, "out_of_stock", True),
    ],
)
async def test_every_sku(tools, sku, on_hand, state, reorder):
    (item,) = (await tools["check_inventory"](sku=sku))["items"]
    assert (item["sku"], item["on_hand"], item["stock_state"], item["reorder_recommended"]) == (
        sku,
        on_hand,
        state,
        reorder,
    )


async def test_inventory_for_an_order_checks_each_of_its_skus(tools):
    result = await tools["check_inventory"](order_id="ord-1001")
    assert result["order_id"] == "ORD-1001"
    assert [i["sku"] for i in result["items"]] == ["SKU-APL-01", "SKU-KBD-07"]


async def test_ids_match_case_insensitively(tools):
    assert (await tools["get_order_status"](" ord-1003 "))["order_id"] == "ORD-1003"
    assert (await tools["check_inventory"](sku="sku-kbd-07"))["items"][0]["sku"] == "SKU-KBD-07"


@pytest.mark.parametrize("tool", ORDER_TOOLS)
async def test_unknown_order_is_not_found(tools, tool):
    assert await tools[tool]("ORD-9999") == {
        "status": "error",
        "error_message": "Order ORD-9999 not found.",
    }


async def test_unknown_sku_and_missing_arguments_are_errors(tools):
    check_inventory = tools["check_inventory"]
    assert await check_inventory(sku="SKU-NOPE-1") == {
        "status": "error",
        "error_message": "SKU SKU-NOPE-1 not found.",
    }
    assert (await check_inventory())["status"] == "error"
    assert (await check_inventory(order_id="ORD-9999"))["error_message"] == (
        "Order ORD-9999 not found."
    )


@pytest.mark.parametrize("bad", [None, 42, "", "   ", ["ORD-1001"], "ORD-" + "1" * 100, "ORD-12a"])
@pytest.mark.parametrize("tool", ORDER_TOOLS)
async def test_tools_refuse_malformed_arguments(tools, tool, bad):
    result = await tools[tool](bad)
    assert result["status"] == "error"
    assert result["error_message"]


async def test_payment_tool_never_returns_card_data(tools):
    for order_id in ("ORD-1001", "ORD-1002", "ORD-1003"):
        text = json.dumps(await tools["get_payment_status"](order_id))
        assert "card" not in text
        assert re.search(r"\d{12,}", text) is None  # no card number
        assert "/2" not in text  # no expiry date


def test_every_tool_keeps_its_name_and_one_line_docstring():
    tools = build_tools(mock_backends())
    assert tuple(tools) == TOOL_NAMES
    for name, tool in tools.items():
        assert tool.__name__ == name
        assert tool.__doc__ and "\n" not in tool.__doc__.strip()


async def test_a_configured_pattern_decides_what_an_order_id_is():
    records = [
        {
            "order_id": "#W2611340",
            "status": "pending",
            "placed_date": "2024-02-01",
            "items": [{"sku": "sku-x", "name": "X", "quantity": 3}],
        }
    ]
    pattern = OrderIdPattern(r"#W[0-9]{7}")
    tools = build_tools(mock_backends(records, order_ids=pattern), pattern)
    result = await tools["get_order_status"]("#W2611340")
    assert (result["order_status"], result["item_count"]) == ("pending", 1)
    refused = await tools["get_order_status"]("ORD-1001")
    assert "ORDER_ID_PATTERN" in refused["error_message"]
    # A SKU the warehouse does not list is reported as such, never dropped.
    (item,) = (await tools["check_inventory"](order_id="#W2611340"))["items"]
    assert (item["sku"], item["stock_state"], item["on_hand"]) == ("sku-x", "not_stocked", None)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    argument=st.one_of(
        st.text(max_size=80),
        st.integers(),
        st.none(),
        st.lists(st.text(max_size=5), max_size=3),
        st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
    ),
    tool=st.sampled_from(TOOL_NAMES),
)
@example(argument="0\n0", tool="check_inventory")  # a SKU with a line break, echoed once
async def test_any_argument_a_model_sends_gives_a_result_never_an_exception(argument, tool):
    tools = build_tools(mock_backends())
    result = await tools[tool](argument)
    assert result["status"] in ("success", "error")
    if result["status"] == "error":
        assert result["error_message"] and "\n" not in result["error_message"]
