-- Search (`store::search`): one row per thing that can be found, kept by
-- triggers on the source tables in the transaction of every write (posts,
-- comments, edits, deletes, imports, the benchmark's generator alike), and
-- two FTS5 indexes over those rows: `search_content` (items, comments,
-- to-dos) and `search_directory` (people, spaces, topics), so the few
-- directory rows are not buried under millions of posts.
--
-- doc: item | comment | todo | person | space | topic
-- kind: the item's kind (post, request, offer, ...) or else `doc`.
-- A to-do is found only by its owner (`author_id`); items of kind 'todo'
-- (shared to-dos) are not indexed as items, their to-do row is.
CREATE TABLE search_docs (
    id         INTEGER PRIMARY KEY,
    doc        TEXT NOT NULL,
    kind       TEXT NOT NULL,
    source_id  INTEGER NOT NULL,
    item_id    INTEGER,
    space_id   INTEGER,
    author_id  INTEGER,
    created_at INTEGER NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX search_docs_source ON search_docs (doc, source_id);
CREATE UNIQUE INDEX search_docs_topic ON search_docs (title) WHERE doc = 'topic';
CREATE INDEX search_docs_item ON search_docs (item_id) WHERE doc = 'comment';

-- Contentless: the text is in search_docs. `meta` holds the filters as
-- words (xall, xd<doc>, xk<kind>, xa<author>, xs<space>) so that from:,
-- in: and type: are intersections inside the index.
CREATE VIRTUAL TABLE search_content USING fts5 (
    title, body, meta,
    content = '', contentless_delete = 1,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
-- Names and handles are not stemmed: a suggestion reads the word being
-- typed as a prefix, and a stemmed prefix ("analy" -> "anali") would miss.
CREATE VIRTUAL TABLE search_directory USING fts5 (
    title, body, meta,
    content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN
    INSERT INTO search_content (rowid, title, body, meta)
    SELECT new.id, new.title, new.body,
           'xall xd' || new.doc || ' xk' || new.kind || ' xa' || COALESCE(new.author_id, 0)
           || ' xs' || COALESCE(new.space_id, 0)
    WHERE new.doc IN ('item', 'comment', 'todo');
    INSERT INTO search_directory (rowid, title, body, meta)
    SELECT new.id, new.title, new.body, 'xall xd' || new.doc || ' xk' || new.kind
    WHERE new.doc NOT IN ('item', 'comment', 'todo');
END;

CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN
    DELETE FROM search_content WHERE rowid = old.id AND old.doc IN ('item', 'comment', 'todo');
    DELETE FROM search_directory WHERE rowid = old.id AND old.doc NOT IN ('item', 'comment', 'todo');
END;

CREATE TRIGGER search_docs_au AFTER UPDATE ON search_docs BEGIN
    DELETE FROM search_content WHERE rowid = old.id AND old.doc IN ('item', 'comment', 'todo');
    DELETE FROM search_directory WHERE rowid = old.id AND old.doc NOT IN ('item', 'comment', 'todo');
    INSERT INTO search_content (rowid, title, body, meta)
    SELECT new.id, new.title, new.body,
           'xall xd' || new.doc || ' xk' || new.kind || ' xa' || COALESCE(new.author_id, 0)
           || ' xs' || COALESCE(new.space_id, 0)
    WHERE new.doc IN ('item', 'comment', 'todo');
    INSERT INTO search_directory (rowid, title, body, meta)
    SELECT new.id, new.title, new.body, 'xall xd' || new.doc || ' xk' || new.kind
    WHERE new.doc NOT IN ('item', 'comment', 'todo');
END;

-- Items (not shared to-dos, which their to-do row stands for).
CREATE TRIGGER search_items_ai AFTER INSERT ON items
WHEN new.kind <> 'todo' AND new.deleted_at IS NULL BEGIN
    INSERT INTO search_docs (doc, kind, source_id, item_id, space_id, author_id, created_at, title, body)
    VALUES ('item', new.kind, new.id, new.id, new.space_id, new.author_id, new.created_at, new.title, new.body);
END;

CREATE TRIGGER search_items_au AFTER UPDATE OF title, body, deleted_at ON items BEGIN
    DELETE FROM search_docs WHERE doc = 'item' AND source_id = new.id AND new.deleted_at IS NOT NULL;
    UPDATE search_docs SET title = new.title, body = new.body
    WHERE doc = 'item' AND source_id = new.id AND (title <> new.title OR body <> new.body);
END;

CREATE TRIGGER search_items_ad AFTER DELETE ON items BEGIN
    DELETE FROM search_docs WHERE doc = 'item' AND source_id = old.id;
    DELETE FROM search_docs WHERE doc = 'comment' AND item_id = old.id;
END;

-- A request's terms (title, conditions) change with a counter-offer.
CREATE TRIGGER search_requests_ai AFTER INSERT ON requests BEGIN
    UPDATE search_docs SET title = new.title,
        body = (SELECT i.body FROM items i WHERE i.id = new.item_id)
            || CASE WHEN new.conditions <> (SELECT i.body FROM items i WHERE i.id = new.item_id)
                    THEN char(10) || new.conditions ELSE '' END
    WHERE doc = 'item' AND source_id = new.item_id;
END;

CREATE TRIGGER search_requests_au AFTER UPDATE OF title, conditions ON requests
WHEN new.title <> old.title OR new.conditions <> old.conditions BEGIN
    UPDATE search_docs SET title = new.title,
        body = (SELECT i.body FROM items i WHERE i.id = new.item_id)
            || CASE WHEN new.conditions <> (SELECT i.body FROM items i WHERE i.id = new.item_id)
                    THEN char(10) || new.conditions ELSE '' END
    WHERE doc = 'item' AND source_id = new.item_id;
END;

CREATE TRIGGER search_comments_ai AFTER INSERT ON comments WHEN new.deleted_at IS NULL BEGIN
    INSERT INTO search_docs (doc, kind, source_id, item_id, space_id, author_id, created_at, title, body)
    SELECT 'comment', 'comment', new.id, new.item_id, i.space_id, new.author_id, new.created_at, '', new.body
    FROM items i WHERE i.id = new.item_id;
END;

CREATE TRIGGER search_comments_au AFTER UPDATE OF body, deleted_at ON comments BEGIN
    DELETE FROM search_docs WHERE doc = 'comment' AND source_id = new.id AND new.deleted_at IS NOT NULL;
    UPDATE search_docs SET body = new.body
    WHERE doc = 'comment' AND source_id = new.id AND body <> new.body;
END;

CREATE TRIGGER search_comments_ad AFTER DELETE ON comments BEGIN
    DELETE FROM search_docs WHERE doc = 'comment' AND source_id = old.id;
END;

CREATE TRIGGER search_todos_ai AFTER INSERT ON todos BEGIN
    INSERT INTO search_docs (doc, kind, source_id, item_id, space_id, author_id, created_at, title, body)
    VALUES ('todo', 'todo', new.id, new.item_id, new.space_id, new.owner_id, new.created_at, new.title, new.notes);
END;

CREATE TRIGGER search_todos_au AFTER UPDATE OF title, notes, item_id, space_id ON todos BEGIN
    UPDATE search_docs SET title = new.title, body = new.notes, item_id = new.item_id, space_id = new.space_id
    WHERE doc = 'todo' AND source_id = new.id;
END;

CREATE TRIGGER search_todos_ad AFTER DELETE ON todos BEGIN
    DELETE FROM search_docs WHERE doc = 'todo' AND source_id = old.id;
END;

CREATE TRIGGER search_members_ai AFTER INSERT ON members BEGIN
    INSERT INTO search_docs (doc, kind, source_id, created_at, title, body)
    VALUES ('person', 'person', new.id, new.created_at, new.display_name,
            new.handle || char(10) || new.title || char(10) || new.team || char(10) || new.about);
END;

CREATE TRIGGER search_members_au AFTER UPDATE OF handle, display_name, title, team, about ON members BEGIN
    UPDATE search_docs SET title = new.display_name,
        body = new.handle || char(10) || new.title || char(10) || new.team || char(10) || new.about
    WHERE doc = 'person' AND source_id = new.id
      AND (title <> new.display_name
           OR body <> new.handle || char(10) || new.title || char(10) || new.team || char(10) || new.about);
END;

CREATE TRIGGER search_members_ad AFTER DELETE ON members BEGIN
    DELETE FROM search_docs WHERE doc = 'person' AND source_id = old.id;
END;

CREATE TRIGGER search_spaces_ai AFTER INSERT ON spaces BEGIN
    INSERT INTO search_docs (doc, kind, source_id, space_id, created_at, title, body)
    VALUES ('space', 'space', new.id, new.id, new.created_at, new.name, new.slug || char(10) || new.description);
END;

CREATE TRIGGER search_spaces_au AFTER UPDATE OF slug, name, description ON spaces
WHEN new.slug <> old.slug OR new.name <> old.name OR new.description <> old.description BEGIN
    UPDATE search_docs SET title = new.name, body = new.slug || char(10) || new.description
    WHERE doc = 'space' AND source_id = new.id;
END;

CREATE TRIGGER search_spaces_ad AFTER DELETE ON spaces BEGIN
    DELETE FROM search_docs WHERE doc = 'space' AND source_id = old.id;
END;

-- A topic is a row from its first use on; whether a viewer may find it is
-- whether they may see an item that has it.
CREATE TRIGGER search_topics_ai AFTER INSERT ON item_topics BEGIN
    INSERT INTO search_docs (doc, kind, source_id, created_at, title, body)
    SELECT 'topic', 'topic', 0, i.created_at, new.topic, ''
    FROM items i WHERE i.id = new.item_id
      AND NOT EXISTS (SELECT 1 FROM search_docs t WHERE t.doc = 'topic' AND t.title = new.topic);
END;

-- What is there already, oldest first (rowids follow time).
INSERT INTO search_docs (doc, kind, source_id, created_at, title, body)
SELECT 'person', 'person', id, created_at, display_name,
       handle || char(10) || title || char(10) || team || char(10) || about
FROM members ORDER BY id;
INSERT INTO search_docs (doc, kind, source_id, space_id, created_at, title, body)
SELECT 'space', 'space', id, id, created_at, name, slug || char(10) || description FROM spaces ORDER BY id;
INSERT INTO search_docs (doc, kind, source_id, created_at, title, body)
SELECT 'topic', 'topic', 0, MIN(i.created_at), t.topic, ''
FROM item_topics t JOIN items i ON i.id = t.item_id GROUP BY t.topic ORDER BY MIN(i.created_at);
INSERT INTO search_docs (doc, kind, source_id, item_id, space_id, author_id, created_at, title, body)
SELECT doc, kind, source_id, item_id, space_id, author_id, created_at, title, body FROM (
    SELECT 'item' AS doc, i.kind AS kind, i.id AS source_id, i.id AS item_id, i.space_id AS space_id,
           i.author_id AS author_id, i.created_at AS created_at,
           COALESCE(r.title, i.title) AS title,
           i.body || CASE WHEN r.conditions IS NOT NULL AND r.conditions <> i.body
                          THEN char(10) || r.conditions ELSE '' END AS body
    FROM items i LEFT JOIN requests r ON r.item_id = i.id
    WHERE i.kind <> 'todo' AND i.deleted_at IS NULL
    UNION ALL
    SELECT 'comment', 'comment', c.id, c.item_id, i.space_id, c.author_id, c.created_at, '', c.body
    FROM comments c JOIN items i ON i.id = c.item_id WHERE c.deleted_at IS NULL
    UNION ALL
    SELECT 'todo', 'todo', t.id, t.item_id, t.space_id, t.owner_id, t.created_at, t.title, t.notes
    FROM todos t
) ORDER BY created_at, source_id;
