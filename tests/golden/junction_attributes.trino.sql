SELECT "Order".id AS id,
       "Order".status AS status,
       products.id AS "products.id",
       products.name AS "products.name",
       "products->OrderProduct".order_id AS "products.OrderProduct.order_id",
       "products->OrderProduct".product_id AS "products.OrderProduct.product_id",
       "products->OrderProduct".quantity AS "products.OrderProduct.quantity"
FROM "shop_mariadb"."users_and_orders".orders AS "Order"
JOIN
  (SELECT "Order".id AS id,
          "Order".id AS order_0
   FROM "shop_mariadb"."users_and_orders".orders AS "Order"
   ORDER BY order_0 DESC
   LIMIT :param_1) AS picked ON picked.id = "Order".id
LEFT OUTER JOIN ("shop_mariadb"."users_and_orders".order_products AS "products->OrderProduct"
                 JOIN "shop_postgresql"."products".products AS products ON "products->OrderProduct".product_id = products.id) ON "Order".id = "products->OrderProduct".order_id
AND "products->OrderProduct".quantity >= :quantity_1
ORDER BY "Order".id DESC,
         products.id
