// Message bodies and headers over AMQP 1.0, chosen so that gofer messages cross protocols.
//
// Sending: the body goes in ONE data section (bytes, as given), with the header's `durable` and
// `ttl`, and content_encoding "utf-8" like gofer's 0-9-1 messages. Why a data section and not
// the amqp-value string Python gofer's proton adapter uses: RabbitMQ hands a data section to a
// 0-9-1 consumer as the raw bytes (so our 0-9-1 adapter and Python gofer's python-amqp consumer
// read the JSON unchanged), while an amqp-value reaches them as the encoded 1.0 section
// (00 53 77 a1 <len> ...). A 1.0 consumer (Python gofer's proton one included) reads a data
// section as bytes, which json.loads accepts.
//
// Receiving, we accept everything a gofer peer may send: a data section (our 1.0 adapter, and
// every 0-9-1 publisher's message as RabbitMQ converts it), an amqp-value string (Python gofer's
// proton adapter), an amqp-value binary, and, from foreign peers, other amqp-values as JSON.
import rhea, { type Message } from 'rhea'
import type { SendOptions } from '../adapter.js'

/** The rhea message for a gofer send. */
export function encodeMessage(body: Buffer, options: SendOptions = {}): Message {
  const message: Message = {
    body: rhea.message.data_section(body),
    durable: options.durable !== false,
    content_encoding: 'utf-8',
  }
  if (options.ttl && options.ttl > 0) message.ttl = Math.ceil(options.ttl)
  return message
}

/** A rhea Section (data/sequence/value), as rhea hands a data section to a receiver. */
interface Section {
  typecode: number
  content: unknown
}

const DATA = 0x75
const SEQUENCE = 0x76

function isSection(value: unknown): value is Section {
  return typeof value === 'object' && value !== null && typeof (value as Section).typecode === 'number' && 'content' in value
}

/** The body of a received message as bytes. Never throws. */
export function bodyBytes(message: Message): Buffer {
  return toBytes(message.body)
}

function toBytes(body: unknown): Buffer {
  if (body === undefined || body === null) return Buffer.alloc(0)
  if (Buffer.isBuffer(body)) return body
  if (typeof body === 'string') return Buffer.from(body, 'utf8')
  if (body instanceof Uint8Array) return Buffer.from(body)
  if (isSection(body)) {
    // Several data sections make one body (AMQP 1.0 §3.2): concatenate them.
    if (body.typecode === DATA && Array.isArray(body.content)) return Buffer.concat(body.content.map(toBytes))
    if (body.typecode === DATA || body.typecode === SEQUENCE) return toBytes(body.content)
    return toBytes(body.content)
  }
  if (Array.isArray(body) && body.every(isSection)) return Buffer.concat(body.map(toBytes))
  try {
    return Buffer.from(JSON.stringify(body) ?? '', 'utf8')
  } catch {
    return Buffer.from(String(body), 'utf8')
  }
}

/**
 * Whether the broker delivered this message before. RabbitMQ clears `first_acquirer` on a
 * redelivery (and leaves delivery_count unset); other brokers count deliveries instead.
 * An absent header (the Proton example brokers) means a first delivery.
 */
export function isRedelivered(message: Message): boolean {
  if (typeof message.delivery_count === 'number' && message.delivery_count > 0) return true
  return message.first_acquirer === false
}
