/**
 * The Canal wire protocol: framing, the Packet envelope, one module per packet type, the Entry
 * change event and the password scramble. Pure codecs: no sockets, no timers.
 *
 * Naming: `encodeX` / `decodeX` work on a message's body bytes; `encodeXFrame` returns the whole
 * frame (length header + Packet) ready for one socket write; `readX` checks a decoded Packet the
 * way the Java client does and decodes its body.
 */
export { DEFAULT_MAX_FRAME_BYTES, encodeFrame, FRAME_HEADER_BYTES, FrameDecoder, type FrameDecoderOptions, FrameReader } from "./frame.js";
export {
  Compression,
  decodePacket,
  encodePacket,
  encodePacketFrame,
  expectPacket,
  PACKET_VERSION,
  PacketType,
  packetTypeName,
  replyFrame,
  requestFrame,
  type Packet,
} from "./packet.js";
export { decodeHandshake, encodeHandshake, encodeHandshakeFrame, readHandshake, type Handshake } from "./messages/handshake.js";
export { decodeClientAuth, encodeClientAuth, encodeClientAuthFrame, type ClientAuth } from "./messages/client-auth.js";
export { ackError, AckErrorCode, decodeAck, encodeAck, encodeAckFrame, parseAck, readAck, type Ack } from "./messages/ack.js";
export { decodeSub, encodeSub, encodeSubFrame, type Sub } from "./messages/sub.js";
export { decodeUnsub, encodeUnsub, encodeUnsubFrame, type Unsub } from "./messages/unsub.js";
export { decodeGet, encodeGet, encodeGetFrame, NO_TIMEOUT, TimeUnit, type Get } from "./messages/get.js";
export {
  decodeMessages,
  EMPTY_BATCH_ID,
  encodeGetReplyFrame,
  encodeMessages,
  encodeMessagesFrame,
  encodeRawMessagesFrame,
  readMessagesReply,
  type Messages,
} from "./messages/messages.js";
export { decodeClientAck, encodeClientAck, encodeClientAckFrame, type ClientAck } from "./messages/client-ack.js";
export {
  decodeClientRollback,
  encodeClientRollback,
  encodeClientRollbackFrame,
  type ClientRollback,
} from "./messages/client-rollback.js";
export { decodeHeartBeat, encodeHeartBeat, type HeartBeat } from "./messages/heartbeat.js";
export {
  decodeColumn,
  decodeEntry,
  decodeRowChange,
  decodeTransactionBegin,
  decodeTransactionEnd,
  encodeColumn,
  encodeEntry,
  encodeRowChange,
  encodeTransactionBegin,
  encodeTransactionEnd,
  EntryType,
  EventType,
  SourceType,
  type Column,
  type Entry,
  type Header,
  type Pair,
  type RowChange,
  type RowData,
  type TransactionBegin,
  type TransactionEnd,
} from "./entry.js";
export {
  checkAuth,
  scramble411,
  scrambleGenPass,
  verifyScramble,
  type AuthResult,
  type ClientCredentials,
  type ServerCredentials,
} from "./scramble.js";
