SELECT `User`.id AS id,
       `User`.name AS name,
       orders.id AS `orders.id`,
       orders.total AS `orders.total`,
       `orders->products`.id AS `orders.products.id`,
       `orders->products`.name AS `orders.products.name`
FROM users_and_orders.users AS `User`
LEFT OUTER JOIN
  (SELECT `orders~rows`.id AS id,
          `orders~rows`.user_id AS user_id,
          `orders~rows`.status AS status,
          `orders~rows`.total AS total,
          `orders~rows`.created_at AS created_at,
          row_number() OVER (PARTITION BY `orders~rows`.user_id
                             ORDER BY `orders~rows`.total DESC, `orders~rows`.id ASC) AS `~rank`
   FROM users_and_orders.orders AS `orders~rows`) AS orders ON `User`.id = orders.user_id
AND orders.`~rank` > %s
AND orders.`~rank` <= %s
LEFT OUTER JOIN (
                   (SELECT `orders->products~links`.order_id AS order_id,
                           `orders->products~links`.product_id AS product_id,
                           `orders->products~links`.quantity AS quantity,
                           row_number() OVER (PARTITION BY `orders->products~links`.order_id
                                              ORDER BY `orders->products~rows`.price DESC, `orders->products~rows`.id ASC) AS `~rank`
                    FROM users_and_orders.order_products AS `orders->products~links`
                    INNER JOIN products.products AS `orders->products~rows` ON `orders->products~links`.product_id = `orders->products~rows`.id) AS `orders->products->OrderProduct`
                 INNER JOIN products.products AS `orders->products` ON `orders->products->OrderProduct`.product_id = `orders->products`.id) ON orders.id = `orders->products->OrderProduct`.order_id
AND `orders->products->OrderProduct`.`~rank` > %s
AND `orders->products->OrderProduct`.`~rank` <= %s
ORDER BY `User`.id,
         orders.total DESC,
         orders.id,
         `orders->products`.price DESC,
         `orders->products`.id
