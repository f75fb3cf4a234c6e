SELECT "User".id AS id,
       "User".name AS name,

  (SELECT count(*) AS count_1
   FROM users_and_orders.orders AS "~order_count0"
   WHERE "User".id = "~order_count0".user_id) AS order_count,

  (SELECT sum("~pieces1".quantity) AS sum_1
   FROM users_and_orders.orders AS "~pieces0"
   JOIN users_and_orders.order_products AS "~pieces1" ON "~pieces0".id = "~pieces1".order_id
   WHERE "User".id = "~pieces0".user_id) AS pieces,
       orders.id AS "orders.id",

  (SELECT count(*) AS count_2
   FROM users_and_orders.order_products AS "~items0~links"
   JOIN products.products AS "~items0" ON "~items0~links".product_id = "~items0".id
   WHERE orders.id = "~items0~links".order_id) AS "orders.items"
FROM users_and_orders.users AS "User"
LEFT OUTER JOIN users_and_orders.orders AS orders ON "User".id = orders.user_id
WHERE
    (SELECT count(*) AS count_3
     FROM users_and_orders.orders AS "~order_count0"
     WHERE "User".id = "~order_count0".user_id) >= %(param_1)s::BIGINT
ORDER BY order_count DESC,
         "User".id ASC,
         orders.id
