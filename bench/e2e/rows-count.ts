/**
 * Row changes in one serialized Canal Entry, read from its header's `rowsCount` prop without
 * decoding the entry: the e2e client must measure the node, not protobuf decoding of row
 * values. Only the header (field 1) is walked; storeValue is skipped unread.
 */
import protobuf from "protobufjs/minimal.js";

const ENTRY_HEADER = (1 << 3) | 2;
const HEADER_PROPS = (12 << 3) | 2;
const PAIR_KEY = (1 << 3) | 2;
const PAIR_VALUE = (2 << 3) | 2;

/** Canal's rowsCount of a rows entry (an UPDATE's before/after pair counts once); 0 for other entries. */
export function rowsCountOf(entry: Uint8Array): number {
  const reader = protobuf.Reader.create(entry);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag === ENTRY_HEADER) return headerRowsCount(protobuf.Reader.create(reader.bytes()));
    reader.skipType(tag & 7);
  }
  return 0;
}

function headerRowsCount(header: protobuf.Reader): number {
  while (header.pos < header.len) {
    const tag = header.uint32();
    if (tag !== HEADER_PROPS) {
      header.skipType(tag & 7);
      continue;
    }
    const pair = protobuf.Reader.create(header.bytes());
    let key = "";
    let value = "";
    while (pair.pos < pair.len) {
      const pairTag = pair.uint32();
      if (pairTag === PAIR_KEY) key = pair.string();
      else if (pairTag === PAIR_VALUE) value = pair.string();
      else pair.skipType(pairTag & 7);
    }
    if (key === "rowsCount") return Number(value);
  }
  return 0;
}
