/**
 * `npm run bootstrap`: creates or reconciles every topic of the catalogue and registers every
 * record schema (subject compatibility FULL_TRANSITIVE). What `npm start`, `npm test` and the
 * Helm chart's bootstrap job run before any service.
 *
 *   --repair-config   rewrite topic configs that drifted from the catalogue
 *
 * Exit codes: 0 in step, 1 a schema was refused, 2 topic drift found (listed), 64 bad arguments,
 * 78 bad config.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '@parley/platform/config';
import { createKafka } from '@parley/platform/kafka';
import { createLogger } from '@parley/platform/logger';
import { createSchemaRegistry, schemaRegistryOptions } from '@parley/platform/schema-registry';
import { registerSchemas } from '../avro/register.ts';
import { loadSchemaSet } from '../avro/schema-set.ts';
import { DEAD_LETTER_GROUPS, topicCatalogue } from '../topics/catalogue.ts';
import { reconcileTopics } from '../topics/reconcile.ts';
import { bootstrapSettings } from './settings.ts';

const USAGE = 'usage: npm run bootstrap [-- --repair-config]';

function parse() {
  try {
    return parseArgs({
      options: { 'repair-config': { type: 'boolean', default: false }, help: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    process.stderr.write(`bootstrap: ${(error as Error).message}\n${USAGE}\n`);
    process.exit(64);
  }
}

async function main() {
  const args = parse();
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let config: ReturnType<typeof loadConfig<typeof bootstrapSettings>>;
  try {
    config = loadConfig(bootstrapSettings);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`bootstrap: ${error.message}\n`);
    return 78;
  }
  const log = createLogger({
    service: 'bootstrap',
    level: 'warn',
    environment: config.environment,
  });
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'parley.bootstrap', log });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const catalogue = topicCatalogue({
      environment: config.environment,
      partitions: config.TOPIC_PARTITIONS,
      prefix: config.TOPIC_PREFIX,
      deadLetterGroups: DEAD_LETTER_GROUPS,
    });
    const report = await reconcileTopics(admin, catalogue, { repairConfig: args['repair-config'] });
    for (const name of report.created) process.stdout.write(`created  ${name}\n`);
    for (const d of report.repaired) {
      process.stdout.write(`repaired ${d.topic}: ${d.property} ${d.actual} -> ${d.expected}\n`);
    }
    for (const d of report.drift) {
      process.stdout.write(
        `DRIFT    ${d.topic}: ${d.property} is ${d.actual}, catalogue says ${d.expected}\n`,
      );
    }
    process.stdout.write(
      `topics: ${catalogue.length} in catalogue, ${report.created.length} created, ${report.unchanged.length} in step, ${report.drift.length} drifted\n`,
    );
    const options = schemaRegistryOptions(config);
    const registrations = await registerSchemas(
      createSchemaRegistry(options),
      options,
      loadSchemaSet(),
    );
    const refused = registrations.filter((r) => r.error);
    for (const r of refused) process.stdout.write(`REFUSED  ${r.subject}: ${r.error}\n`);
    process.stdout.write(
      `schemas: ${registrations.length} subjects, ${registrations.length - refused.length} registered or unchanged, ${refused.length} refused\n`,
    );
    if (refused.length > 0) return 1;
    return report.drift.length > 0 ? 2 : 0;
  } finally {
    await admin.disconnect();
  }
}

process.exitCode = await main();
