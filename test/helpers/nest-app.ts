/**
 * A NestJS 11 app as the starter writes it (CommonJS: no "type" in package.json; the starter's
 * tsconfig with emitDecoratorMetadata), for the CLI tests: dependency injection by constructor
 * type only (no @Inject tokens), a DTO validated by class-validator through ValidationPipe, and
 * a lifecycle counter. Its routes:
 *
 *   GET  /            `${appService.getHello()} <controller version>`
 *   GET  /destroyed   how many apps ran onModuleDestroy and onApplicationShutdown (`d s`),
 *                     kept in hooks.ts, which no save re-executes
 *   GET  /pid         the process
 *   POST /items       a CreateItemDto (title: string ≤ 10 chars, count: int ≥ 1): 201 with it, or 400
 *
 * The platform is express or fastify; main.ts listens on $PORT.
 */
import { NEST_TSCONFIG } from '../../bench/nest-project.js';

export type NestPlatform = 'express' | 'fastify';

export const controllerSource = (version: string) => `import { Body, Controller, Get, Post } from '@nestjs/common';
import { AppService } from './app.service';
import { CreateItemDto } from './create-item.dto';
import { counts } from './hooks';

@Controller()
export class AppController {
  constructor(private readonly appService: AppService) {}

  @Get()
  hello(): string {
    return \`\${this.appService.getHello()} ${version}\`;
  }

  @Get('destroyed')
  destroyed(): string {
    return \`\${counts.destroyed} \${counts.shutdown}\`;
  }

  @Get('pid')
  pid(): string {
    return String(process.pid);
  }

  @Post('items')
  create(@Body() item: CreateItemDto): CreateItemDto {
    return item;
  }
}
`;

const MAIN: Record<NestPlatform, string> = {
  express: `import { ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';

async function bootstrap() {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, transform: true }));
  await app.listen(Number(process.env.PORT), '127.0.0.1');
}
bootstrap();
`,
  fastify: `import { ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module';

async function bootstrap() {
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter(), { logger: ['error', 'warn'] });
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, transform: true }));
  await app.listen(Number(process.env.PORT), '127.0.0.1');
}
bootstrap();
`,
};

/** The app's files (paths relative to the project root). */
export function nestApp(platform: NestPlatform): Record<string, string> {
  return {
    'package.json': JSON.stringify({ name: 'nest-app', version: '0.0.0', private: true }),
    'tsconfig.json': JSON.stringify(NEST_TSCONFIG),
    'src/main.ts': MAIN[platform],
    'src/hooks.ts': `export const counts = { destroyed: 0, shutdown: 0 };\n`,
    'src/app.service.ts': `import { Injectable, OnApplicationShutdown, OnModuleDestroy } from '@nestjs/common';
import { counts } from './hooks';

@Injectable()
export class AppService implements OnModuleDestroy, OnApplicationShutdown {
  getHello(): string {
    return 'Hello World!';
  }

  onModuleDestroy(): void {
    counts.destroyed++;
  }

  onApplicationShutdown(): void {
    counts.shutdown++;
  }
}
`,
    'src/create-item.dto.ts': `import { Type } from 'class-transformer';
import { IsInt, IsString, MaxLength, Min } from 'class-validator';

export class CreateItemDto {
  @IsString()
  @MaxLength(10)
  title: string;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  count: number;
}
`,
    'src/app.controller.ts': controllerSource('c0'),
    'src/app.module.ts': `import { Module } from '@nestjs/common';
import { AppController } from './app.controller';
import { AppService } from './app.service';

@Module({
  controllers: [AppController],
  providers: [AppService],
})
export class AppModule {}
`,
  };
}
