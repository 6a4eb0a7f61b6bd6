// The body of request `id`: an 8-byte unit derived from the id, repeated.
// Never all zeros, different for every id, so a decommitted page (zeros) or
// another request's bytes in a response are both caught.
'use strict';

function unit(id) {
  const u = Buffer.alloc(8);
  u.writeUInt32LE((id + 1) >>> 0, 0);
  u.writeUInt32LE((Math.imul(id + 1, 2654435761) | 1) >>> 0, 4);
  return u;
}

/** Writes the body of `id` over `buf` (e.g. a view of the request's arena) and returns it. */
function fill(buf, id) {
  return buf.length === 0 ? buf : buf.fill(unit(id));
}

/** The body the client expects for `id`. */
function expected(id, size) {
  return fill(Buffer.alloc(size), id);
}

module.exports = { fill, expected };
