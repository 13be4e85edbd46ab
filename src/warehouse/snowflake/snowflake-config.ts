import { z } from 'zod';

/** Names that reach Snowflake SQL are validated here, then upper-cased and quoted (snowflake-dialect.ts). */
const snowflakeName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_$]{0,254}$/, 'letters, digits, _ and $ (an unquoted Snowflake name)');
export const snowflakeWarehouse = z
  .strictObject({
    kind: z.literal('snowflake'),
    /** The account identifier, e.g. `myorg-myaccount` (or a locator such as `xy12345.eu-west-1`). */
    account: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'an account identifier such as myorg-myaccount'),
    user: z.string().min(1),
    /** Password auth: from the environment (`${SNOWFLAKE_PASSWORD}`). */
    password: z.string().min(1).optional(),
    /** Key-pair auth: the PEM text (from the environment) or a file holding it, and its passphrase if encrypted. */
    private_key: z.string().min(1).optional(),
    private_key_path: z.string().min(1).optional(),
    private_key_passphrase: z.string().min(1).optional(),
    role: snowflakeName.optional(),
    warehouse: snowflakeName.optional(),
    database: snowflakeName,
    schema: snowflakeName.default('PUBLIC'),
    /** A named stage of yours to load through; by default the loader creates `AETL_STAGE` in the schema. */
    stage: snowflakeName.optional(),
    /** Adds a clustering key on the event date to the fact tables (automatic clustering costs credits). */
    cluster_by_date: z.boolean().default(false),
    /** Another address than the account's: a private link, or the test stand-in. */
    access_url: z.url().optional(),
  })
  .superRefine((value, ctx) => {
    const ways = [value.password, value.private_key, value.private_key_path].filter(Boolean).length;
    if (ways !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['password'],
        message: 'set exactly one of password, private_key or private_key_path (each from the environment)',
      });
    }
  });
