/**
 * A NestJS project for the benchmarks, shaped like the official starter (CommonJS: no "type" in
 * package.json; its tsconfig with emitDecoratorMetadata; nest-cli.json and tsconfig.build.json
 * for `nest start`) plus `features` feature modules of five files each: module, controller,
 * service, DTO (class-validator) and entity. Each service gets the previous feature's service
 * by constructor type, so dependency injection depends on the emitted metadata throughout.
 *
 *   src/main.ts               NestFactory.create(AppModule), listen on $PORT
 *   src/app.controller.ts     GET / → `${appService.getHello()} v<version>` (the file edited)
 *   src/feature<i>/…          five files per feature
 *
 * 60 features make 304 files. The project has no node_modules: it lives under the repository,
 * whose node_modules resolve @nestjs/*, class-validator and typescript by walking up.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface NestProject {
  root: string;
  /** src/main.ts, absolute. */
  entry: string;
  /** src/app.controller.ts, absolute: the file a benchmark edits. */
  controller: string;
  /** Every .ts file, absolute. */
  files: string[];
  /** The controller's source answering `Hello World! v<version>`. */
  controllerText(version: number): string;
}

export const NEST_TSCONFIG = {
  compilerOptions: {
    module: 'commonjs',
    declaration: true,
    removeComments: true,
    emitDecoratorMetadata: true,
    experimentalDecorators: true,
    allowSyntheticDefaultImports: true,
    target: 'ES2023',
    sourceMap: true,
    outDir: './dist',
    baseUrl: './',
    incremental: true,
    skipLibCheck: true,
    strictNullChecks: false,
    noImplicitAny: false,
    strictBindCallApply: false,
    noFallthroughCasesInSwitch: false,
  },
};

const controllerText = (version: number) => `import { Controller, Get } from '@nestjs/common';
import { AppService } from './app.service';

@Controller()
export class AppController {
  constructor(private readonly appService: AppService) {}

  @Get()
  getHello(): string {
    return \`\${this.appService.getHello()} v${version}\`;
  }
}
`;

const name = (i: number) => `Feature${i}`;

function featureFiles(i: number): Record<string, string> {
  const N = name(i);
  const dir = `src/feature${i}`;
  const previous = i > 0 ? name(i - 1) : undefined;
  return {
    [`${dir}/entities/feature${i}.entity.ts`]: `export class ${N}Entity {
  id: number;
  title: string;
  done: boolean;
  createdAt: Date;
}
`,
    [`${dir}/dto/create-feature${i}.dto.ts`]: `import { IsBoolean, IsOptional, IsString, MaxLength } from 'class-validator';

export class Create${N}Dto {
  @IsString()
  @MaxLength(200)
  title: string;

  @IsOptional()
  @IsBoolean()
  done?: boolean;
}
`,
    [`${dir}/feature${i}.service.ts`]: `import { Injectable, NotFoundException } from '@nestjs/common';
import { Create${N}Dto } from './dto/create-feature${i}.dto';
import { ${N}Entity } from './entities/feature${i}.entity';
${previous ? `import { ${previous}Service } from '../feature${i - 1}/feature${i - 1}.service';\n` : ''}
@Injectable()
export class ${N}Service {
  private readonly items = new Map<number, ${N}Entity>();
  private nextId = 1;
${previous ? `\n  constructor(private readonly previous: ${previous}Service) {}\n` : ''}
  create(dto: Create${N}Dto): ${N}Entity {
    const item: ${N}Entity = { id: this.nextId++, title: dto.title, done: dto.done ?? false, createdAt: new Date() };
    this.items.set(item.id, item);
    return item;
  }

  findAll(): ${N}Entity[] {
    return [...this.items.values()];
  }

  findOne(id: number): ${N}Entity {
    const item = this.items.get(id);
    if (!item) throw new NotFoundException(\`${N} \${id} not found\`);
    return item;
  }

  depth(): number {
    return ${previous ? 'this.previous.depth() + 1' : '1'};
  }
}
`,
    [`${dir}/feature${i}.controller.ts`]: `import { Body, Controller, Get, Param, ParseIntPipe, Post } from '@nestjs/common';
import { Create${N}Dto } from './dto/create-feature${i}.dto';
import { ${N}Entity } from './entities/feature${i}.entity';
import { ${N}Service } from './feature${i}.service';

@Controller('feature${i}')
export class ${N}Controller {
  constructor(private readonly service: ${N}Service) {}

  @Post()
  create(@Body() dto: Create${N}Dto): ${N}Entity {
    return this.service.create(dto);
  }

  @Get()
  findAll(): ${N}Entity[] {
    return this.service.findAll();
  }

  @Get('depth')
  depth(): number {
    return this.service.depth();
  }

  @Get(':id')
  findOne(@Param('id', ParseIntPipe) id: number): ${N}Entity {
    return this.service.findOne(id);
  }
}
`,
    [`${dir}/feature${i}.module.ts`]: `import { Module } from '@nestjs/common';
import { ${N}Controller } from './feature${i}.controller';
import { ${N}Service } from './feature${i}.service';
${previous ? `import { ${previous}Module } from '../feature${i - 1}/feature${i - 1}.module';\n` : ''}
@Module({
  imports: [${previous ? `${previous}Module` : ''}],
  controllers: [${N}Controller],
  providers: [${N}Service],
  exports: [${N}Service],
})
export class ${N}Module {}
`,
  };
}

function appFiles(features: number): Record<string, string> {
  const modules = Array.from({ length: features }, (_, i) => name(i));
  return {
    'package.json': `${JSON.stringify({ name: 'nest-bench', version: '0.0.0', private: true }, null, 2)}\n`,
    'tsconfig.json': `${JSON.stringify(NEST_TSCONFIG, null, 2)}\n`,
    'tsconfig.build.json': `${JSON.stringify({ extends: './tsconfig.json', exclude: ['node_modules', 'test', 'dist', '**/*spec.ts'] }, null, 2)}\n`,
    'nest-cli.json': `${JSON.stringify({ collection: '@nestjs/schematics', sourceRoot: 'src', compilerOptions: { deleteOutDir: true } }, null, 2)}\n`,
    'src/main.ts': `import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';

async function bootstrap() {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  await app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
}
bootstrap();
`,
    'src/app.service.ts': `import { Injectable } from '@nestjs/common';

@Injectable()
export class AppService {
  getHello(): string {
    return 'Hello World!';
  }
}
`,
    'src/app.controller.ts': controllerText(0),
    'src/app.module.ts': `import { Module } from '@nestjs/common';
import { AppController } from './app.controller';
import { AppService } from './app.service';
${modules.map((m, i) => `import { ${m}Module } from './feature${i}/feature${i}.module';`).join('\n')}

@Module({
  imports: [${modules.map((m) => `${m}Module`).join(', ')}],
  controllers: [AppController],
  providers: [AppService],
})
export class AppModule {}
`,
  };
}

/** Write the project into `root` (emptied first). */
export function createNestProject(root: string, options: { features: number }): NestProject {
  rmSync(root, { recursive: true, force: true });
  const tree: Record<string, string> = { ...appFiles(options.features) };
  for (let i = 0; i < options.features; i++) Object.assign(tree, featureFiles(i));
  const files: string[] = [];
  for (const [rel, text] of Object.entries(tree)) {
    const file = join(root, rel);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    if (file.endsWith('.ts')) files.push(file);
  }
  return { root, entry: join(root, 'src/main.ts'), controller: join(root, 'src/app.controller.ts'), files, controllerText };
}
