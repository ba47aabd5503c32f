import { HttpException, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common'
import type { FastifyRequest } from 'fastify'
import { errorContractBody } from '../../index.js'

/**
 * Runs the plugin's authenticate: `request.user` and `request.session` are
 * set, or the request is refused with the library's contract body, which
 * Nest's exception filter answers as it is ({ statusCode, code, error,
 * message }): the client helper keys on `code` to log in again.
 */
@Injectable()
export class SessionGuard implements CanActivate {
  async canActivate (context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>()
    try {
      await request.server.authenticate(request)
    } catch (error) {
      const body = errorContractBody(error)
      throw new HttpException(body, body.statusCode)
    }
    return true
  }
}
