SELECT "Author".id AS id,
       books.id AS "books.id",
       books.title AS "books.title",
       "books->BookAuthor".book_id AS "books.BookAuthor.book_id",
       "books->BookAuthor".author_id AS "books.BookAuthor.author_id",
       "books->BookAuthor".role AS "books.BookAuthor.role"
FROM catalog.authors AS "Author"
LEFT OUTER JOIN (
                   (SELECT "books~links".book_id AS book_id,
                           "books~links".author_id AS author_id,
                           "books~links".role AS ROLE,
                           "books~links".position AS POSITION,
                           "books~links".deleted_at AS deleted_at,
                           row_number() OVER (PARTITION BY "books~links".author_id
                                              ORDER BY "books~rows".year DESC, "books~rows".id ASC) AS "~rank"
                    FROM catalog.book_authors AS "books~links"
                    JOIN catalog.books AS "books~rows" ON "books~links".book_id = "books~rows".id
                    WHERE "books~rows".deleted_at IS NULL) AS "books->BookAuthor"
                 JOIN catalog.books AS books ON "books->BookAuthor".book_id = books.id
                 AND books.deleted_at IS NULL) ON "Author".id = "books->BookAuthor".author_id
AND "books->BookAuthor"."~rank" > ?
AND "books->BookAuthor"."~rank" <= ?
ORDER BY "Author".id,
         books.year DESC,
         books.id
