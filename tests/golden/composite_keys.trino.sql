SELECT "Order".id AS id,
       lines.order_id AS "lines.order_id",
       lines.product_id AS "lines.product_id",
       lines.quantity AS "lines.quantity",
       "lines->shipments".id AS "lines.shipments.id",
       "lines->shipments".order_id AS "lines.shipments.order_id",
       "lines->shipments".product_id AS "lines.shipments.product_id",
       "lines->shipments".carrier AS "lines.shipments.carrier",
       "lines->shipments".shipped_on AS "lines.shipments.shipped_on",
       "lines->product".id AS "lines.product.id",
       "lines->product".name AS "lines.product.name",
       "lines->product".price AS "lines.product.price",
       "lines->product".category_id AS "lines.product.category_id"
FROM "shop_mariadb"."users_and_orders".orders AS "Order"
LEFT OUTER JOIN "shop_mariadb"."users_and_orders".order_products AS lines ON "Order".id = lines.order_id
LEFT OUTER JOIN "shop_mariadb"."users_and_orders".shipments AS "lines->shipments" ON lines.order_id = "lines->shipments".order_id
AND lines.product_id = "lines->shipments".product_id
LEFT OUTER JOIN "shop_postgresql"."products".products AS "lines->product" ON lines.product_id = "lines->product".id
ORDER BY "Order".id,
         lines.order_id,
         lines.product_id,
         "lines->shipments".id
