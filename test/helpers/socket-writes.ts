import type { Socket } from 'node:net'
import type { Redis } from 'ioredis'
import type { Teardown } from './redis.js'

type Writing = Socket & { _write: Socket['_write'], _writev: NonNullable<Socket['_writev']> }

const commandNames = (chunk: unknown) => [...String(chunk).matchAll(/^\*\d+\r\n\$\d+\r\n([a-z]+)\r\n/gm)].map((match) => match[1]!)

/**
 * What leaves a client's connection, socket write by socket write (the
 * socket's own _write/_writev, which a corked batch reaches once): the
 * command names of each. Until the test ends.
 */
export async function socketWrites (t: Teardown, redis: Redis): Promise<string[][]> {
  await redis.ping()
  const socket = redis.stream as Writing
  const writes: string[][] = []
  const { _write: write, _writev: writev } = socket
  socket._write = function (chunk, encoding, callback) {
    writes.push(commandNames(chunk))
    write.call(this, chunk, encoding, callback)
  }
  socket._writev = function (chunks, callback) {
    writes.push(chunks.flatMap(({ chunk }) => commandNames(chunk)))
    writev.call(this, chunks, callback)
  }
  t.teardown(() => {
    delete (socket as Partial<Writing>)._write
    delete (socket as Partial<Writing>)._writev
  })
  return writes
}
