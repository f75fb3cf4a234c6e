SELECT "User".id AS id,
       orders.id AS "orders.id"
FROM "shop_mariadb"."users_and_orders".users AS "User"
JOIN
  (SELECT "User".id AS id,
          "User".id AS order_0
   FROM "shop_mariadb"."users_and_orders".users AS "User"
   JOIN "shop_mariadb"."users_and_orders".orders AS orders ON "User".id = orders.user_id
   AND orders.status = :status_1
   GROUP BY "User".id
   ORDER BY order_0 DESC
   LIMIT :param_1) AS picked ON picked.id = "User".id
JOIN "shop_mariadb"."users_and_orders".orders AS orders ON "User".id = orders.user_id
AND orders.status = :status_2
ORDER BY "User".id DESC,
         orders.id
