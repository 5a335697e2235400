"""Products: things AccessGuard's admins sell, each optionally owned by a user."""

from __future__ import annotations

from data.entity import Entity, Field

ENTITY = Entity(
    entity="product",
    plural="products",
    key="2",
    model="models.product:Product",
    natural_key="sku",
    display="name",
    fields=(
        Field(
            "sku",
            "code",
            label="SKU",
            width=10,
            grow=1,
            sort=True,
            search=True,
            required=True,
            placeholder="ABC-123",
            help="stock-keeping unit: letters, digits, - _ .",
        ),
        Field(
            "name",
            "text",
            width=14,
            grow=3,
            sort=True,
            search=True,
            required=True,
            placeholder="Product name",
            help="product name",
        ),
        Field("description", "multiline", default="", help="free text (default: empty)"),
        Field(
            "price",
            "money",
            width=11,
            sort=True,
            required=True,
            placeholder="19.99",
            help="price, a dot for decimals: 19.99",
        ),
        Field("stock", "count", width=6, sort=True, default=0, help="units in stock (default: 0)"),
        Field(
            "is_active",
            "flag",
            width=6,
            sort=True,
            default=True,
            help="whether it is on sale (default: yes)",
        ),
        Field(
            "owner",
            "relation",
            to="users",
            width=12,
            grow=2,
            help="email or id of the user who owns it (default: none)",
        ),
    ),
    examples=(
        "products list --sort price --desc --format csv > products.csv",
        "products add --sku KET-1 --name Kettle --price 19.99 --owner alice@example.com",
        "products show KET-1 --format json",
        "products update KET-1 --price 17.50 --no-active",
        "products delete 7",
    ),
)
