import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import { compileOnFirstUse } from './deferred-compile.ts';

type SerializerFactory = ReturnType<typeof SerializerSelector>;
type Serializer = ReturnType<ReturnType<SerializerFactory>>;

const compile = SerializerSelector();
const compiled = new Map<string, Serializer>();

/**
 * Fastify's own response serializers (fast-json-stringify), each distinct schema compiled once,
 * on first use (see compileOnFirstUse): every route's 4xx and 5xx replies share the problem
 * schema, and lists and entities recur, so compiling per route and status was most of the
 * serializer work at startup (194 compiles of 35 schemas). A serializer is a pure function of
 * its schema, the shared schemas it refers to and the options, which together are the key.
 * Given to Fastify as `schemaController.compilersFactory.buildSerializer`.
 */
export const buildSharedSerializer: SerializerFactory = (externalSchemas, options) => {
  const compileInContext = compile(externalSchemas, options);
  const context = JSON.stringify([externalSchemas, options]);
  return route => {
    const key = `${context}\n${JSON.stringify(route.schema)}`;
    const compiledSerializer = compileOnFirstUse(() => {
      let serializer = compiled.get(key);
      if (!serializer) compiled.set(key, (serializer = compileInContext(route)));
      return serializer;
    });
    return document => compiledSerializer()(document);
  };
};
