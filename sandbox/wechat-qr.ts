import { crc32, deflateSync } from 'node:zlib'
import { encode } from 'uqr'

// What wxacode.getUnlimited draws. WeChat's mini-program codes are round
// "sunflower" codes that only WeChat reads; the sandbox draws a QR code of the
// scene instead, a PNG any QR reader (a test, the demo's page) decodes to the
// scene a real scan hands the mini-program.

/** The docs' widths: 280 to 1280 px, 430 by default. */
export const WIDTH = { min: 280, max: 1280, default: 430 } as const

/** A PNG of about `width` pixels square: the scene as a QR code, black on white, with a quiet zone. */
export function sceneCode (scene: string, width: number): Buffer {
  const { data, size } = encode(scene, { border: 4 })
  const scale = Math.max(1, Math.floor(width / size))
  const side = size * scale
  // One filter byte (0: none) before each row of 8-bit grey pixels.
  const rows = Buffer.alloc((side + 1) * side, 0xff)
  for (let y = 0; y < side; y++) {
    const row = data[Math.floor(y / scale)]!
    rows[y * (side + 1)] = 0
    for (let x = 0; x < side; x++) {
      if (row[Math.floor(x / scale)]) rows[y * (side + 1) + 1 + x] = 0
    }
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(side, 0)
  header.writeUInt32BE(side, 4)
  header.set([8, 0, 0, 0, 0], 8) // 8 bits, greyscale, deflate, no filter method, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0))
  ])
}

function chunk (type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8)
  head.writeUInt32BE(body.length, 0)
  head.write(type, 4, 'latin1')
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])), 0)
  return Buffer.concat([head, body, crc])
}
