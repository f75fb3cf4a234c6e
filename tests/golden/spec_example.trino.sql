SELECT "User".id AS id,
       "User".name AS name,
       orders.id AS "orders.id",
       orders.total AS "orders.total",
       "orders->products".id AS "orders.products.id",
       "orders->products".name AS "orders.products.name",
       "orders->products".price AS "orders.products.price",
       "orders->products".category_id AS "orders.products.category_id"
FROM "shop_mariadb"."users_and_orders".users AS "User"
JOIN
  (SELECT "User".id AS id,
          "User".name AS order_0
   FROM "shop_mariadb"."users_and_orders".users AS "User"
   JOIN "shop_mariadb"."users_and_orders".orders AS orders ON "User".id = orders.user_id
   AND orders.status = :status_1
   WHERE "User".name LIKE :name_1
   GROUP BY "User".id,
            "User".name
   ORDER BY order_0 ASC,
            "User".id
   LIMIT :param_1) AS picked ON picked.id = "User".id
JOIN "shop_mariadb"."users_and_orders".orders AS orders ON "User".id = orders.user_id
AND orders.status = :status_2
LEFT OUTER JOIN ("shop_mariadb"."users_and_orders".order_products AS "orders->products->OrderProduct"
                 JOIN "shop_postgresql"."products".products AS "orders->products" ON "orders->products->OrderProduct".product_id = "orders->products".id) ON orders.id = "orders->products->OrderProduct".order_id
WHERE "User".name LIKE :name_2
ORDER BY "User".name ASC,
         orders.total DESC,
         "User".id,
         orders.id,
         "orders->products".id
