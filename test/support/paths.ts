// Paths tests need, from the compiled test file's location (dist/test/...).
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
/** The Python gofer wire captures (../shared beside the repository). */
export const WIRE = process.env.GOFER_WIRE_DIR ?? join(ROOT, '..', 'shared', 'wire', 'gofer-python')
/** The RabbitMQ the integration tests use (started by scripts/brokers.sh). */
export const AMQP_URL = process.env.GOFER_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
