SELECT "Member".id AS id,
       loans.id AS "loans.id",
       "loans->book".id AS "loans.book.id",
       "loans->book->authors".id AS "loans.book.authors.id",
       "loans->book->authors->BookAuthor".book_id AS "loans.book.authors.BookAuthor.book_id",
       "loans->book->authors->BookAuthor".author_id AS "loans.book.authors.BookAuthor.author_id",
       "loans->book->authors->BookAuthor".role AS "loans.book.authors.BookAuthor.role"
FROM "library_mariadb"."lending".members AS "Member"
LEFT OUTER JOIN "library_mariadb"."lending".loans AS loans ON "Member".id = loans.member_id
AND loans.deleted_at IS NULL
LEFT OUTER JOIN "library_postgresql"."catalog".books AS "loans->book" ON loans.book_id = "loans->book".id
AND "loans->book".deleted_at IS NULL
LEFT OUTER JOIN ("library_postgresql"."catalog".book_authors AS "loans->book->authors->BookAuthor"
                 JOIN "library_postgresql"."catalog".authors AS "loans->book->authors" ON "loans->book->authors->BookAuthor".author_id = "loans->book->authors".id) ON "loans->book".id = "loans->book->authors->BookAuthor".book_id
AND "loans->book->authors->BookAuthor".deleted_at IS NULL
WHERE "Member".deleted_at IS NULL
ORDER BY "Member".id,
         loans.id,
         "loans->book->authors".id
