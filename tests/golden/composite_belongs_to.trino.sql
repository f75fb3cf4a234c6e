SELECT "Shipment".id AS id,
       "Shipment".order_id AS order_id,
       "Shipment".product_id AS product_id,
       "Shipment".carrier AS carrier,
       "Shipment".shipped_on AS shipped_on,
       line.order_id AS "line.order_id",
       line.product_id AS "line.product_id",
       line.quantity AS "line.quantity",
       "line->product".id AS "line.product.id",
       "line->product".name AS "line.product.name",
       "line->product".price AS "line.product.price",
       "line->product".category_id AS "line.product.category_id"
FROM "shop_mariadb"."users_and_orders".shipments AS "Shipment"
LEFT OUTER JOIN "shop_mariadb"."users_and_orders".order_products AS LINE ON "Shipment".order_id = line.order_id
AND "Shipment".product_id = line.product_id
LEFT OUTER JOIN "shop_postgresql"."products".products AS "line->product" ON line.product_id = "line->product".id
ORDER BY "Shipment".id
