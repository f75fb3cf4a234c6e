SELECT "User".id AS id,
       orders.id AS "orders.id",
       orders.total AS "orders.total"
FROM "shop_mariadb"."users_and_orders".users AS "User"
JOIN
  (SELECT "User".id AS id
   FROM "shop_mariadb"."users_and_orders".users AS "User"
   LEFT OUTER JOIN "shop_mariadb"."users_and_orders".orders AS orders ON "User".id = orders.user_id
   WHERE orders.total > :total_1
   GROUP BY "User".id
   ORDER BY "User".id
   OFFSET :param_1
   LIMIT :param_2) AS picked ON picked.id = "User".id
LEFT OUTER JOIN "shop_mariadb"."users_and_orders".orders AS orders ON "User".id = orders.user_id
WHERE orders.total > :total_2
ORDER BY "User".id,
         orders.id
