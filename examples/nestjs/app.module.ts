import { Controller, Get, Module, Req, UseGuards } from '@nestjs/common'
import type { FastifyRequest } from 'fastify'
import type { AuthUser } from '../../index.js'
import { SessionGuard } from './session.guard.js'

@Controller()
class MeController {
  @Get('me')
  @UseGuards(SessionGuard)
  me (@Req() request: FastifyRequest): { user: AuthUser } {
    return { user: request.user }
  }
}

@Module({ controllers: [MeController], providers: [SessionGuard] })
export class AppModule {}
