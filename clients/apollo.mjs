// A real Apollo Client against a live bookgraph endpoint: a nested query, the `addBook`
// mutation, then the author read back from Apollo's normalised cache.
//
//   node apollo.mjs http://127.0.0.1:8000/graphql
//
// Exits 1 with a message on any mismatch.

import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client/core/index.js';

const url = process.argv[2];
if (!url) {
  console.error('usage: node apollo.mjs URL');
  process.exit(2);
}

function check(condition, message, detail) {
  if (!condition) {
    throw new Error(detail === undefined ? message : `${message}: ${JSON.stringify(detail)}`);
  }
}

const CATALOGUE = gql`
  query Catalogue {
    authors(first: 100) {
      nodes {
        __typename
        id
        name
        books {
          __typename
          id
          title
          publishers {
            __typename
            id
            name
          }
        }
      }
    }
  }
`;

const ADD_BOOK = gql`
  mutation AddBook($input: AddBookInput!) {
    addBook(input: $input) {
      outcome
      authorCreated
      publisherCreated
      book {
        __typename
        id
        title
        author {
          __typename
          id
          name
        }
        publishers {
          __typename
          id
          name
        }
      }
    }
  }
`;

const AUTHOR_BOOKS = gql`
  fragment AuthorBooks on Author {
    id
    name
    books {
      id
      title
    }
  }
`;

async function main() {
  const cache = new InMemoryCache();
  const client = new ApolloClient({ link: new HttpLink({ uri: url, fetch }), cache });

  // 1. The nested query, normalised by `__typename` and `id`.
  const first = await client.query({ query: CATALOGUE });
  const authors = first.data.authors.nodes;
  const king = authors.find((author) => author.name === 'Stephen King');
  check(king, 'Stephen King is not among the authors', authors.map((a) => a.name));
  check(king.books.length > 0, 'Stephen King has no books in the catalogue');
  const kingRef = cache.identify({ __typename: 'Author', id: king.id });
  check(kingRef === `Author:${king.id}`, 'unexpected cache id for the author', kingRef);
  const cachedKing = client.readFragment({ id: kingRef, fragment: AUTHOR_BOOKS });
  check(cachedKing?.name === 'Stephen King', 'the cache does not hold the author', cachedKing);
  check(
    cachedKing.books.length === king.books.length,
    "the cache's books differ from the query's",
    { cached: cachedKing.books, queried: king.books },
  );
  const someBook = king.books[0];
  const cachedBook = cache.extract()[`Book:${someBook.id}`];
  check(cachedBook?.title === someBook.title, 'books are not normalised', cachedBook);

  // 2. addBook with a title no one has used.
  const title = `Apollo Cache Test ${Date.now()} ${Math.random().toString(36).slice(2, 8)}`;
  const added = await client.mutate({
    mutation: ADD_BOOK,
    variables: {
      input: {
        authorFirstName: 'Stephen',
        authorLastName: 'King',
        title,
        publisherName: 'Random House',
      },
    },
  });
  const payload = added.data.addBook;
  check(payload.outcome === 'CREATED', 'addBook did not create the book', payload);
  check(!payload.authorCreated, 'addBook created a second Stephen King', payload);
  check(!payload.publisherCreated, 'addBook created a second Random House', payload);
  check(payload.book.title === title, 'addBook returned another title', payload);
  check(payload.book.author.id === king.id, 'the new book belongs to another author', payload);
  check(
    payload.book.publishers.map((p) => p.name).join() === 'Random House',
    'the new book is not published by Random House',
    payload,
  );
  const newBook = cache.extract()[`Book:${payload.book.id}`];
  check(newBook?.title === title, "the mutation's book is not in the cache", newBook);

  // 3. Refetch from the server; the author's normalised entry must now list the new book.
  await client.query({ query: CATALOGUE, fetchPolicy: 'network-only' });
  const after = client.readFragment({ id: kingRef, fragment: AUTHOR_BOOKS });
  check(after?.name === 'Stephen King', 'the author vanished from the cache', after);
  check(
    after.books.length === king.books.length + 1,
    'the author should have exactly one more book after the refetch',
    { before: king.books, after: after.books },
  );
  const listed = after.books.find((book) => book.id === payload.book.id);
  check(listed?.title === title, "the new book is missing from the author's cached books", after);

  console.log(
    `ok: Author:${king.id} (${after.name}) has ${after.books.length} books in the cache, ` +
      `including Book:${payload.book.id} "${title}"`,
  );
}

try {
  await main();
} catch (error) {
  console.error(`apollo client check failed: ${error.message}`);
  if (error.graphQLErrors?.length) console.error(JSON.stringify(error.graphQLErrors, null, 2));
  if (error.networkError) console.error(`network error: ${error.networkError}`);
  process.exit(1);
}
