-- Records: small JSON documents in named collections (durable schedules, definitions),
-- written with compare-and-set on a version. Keys sort in byte order ("C").
CREATE TABLE {{schema}}.records (
  collection text NOT NULL,
  key text COLLATE "C" NOT NULL,
  value jsonb NOT NULL,
  version bigint NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (collection, key)
);

-- Claims: set-if-absent keys with an expiry, for one-off actions that must happen once
-- cluster-wide (firing a schedule for one instant). Expired rows are reclaimed by later claims.
CREATE TABLE {{schema}}.claims (
  key text PRIMARY KEY,
  expires_at timestamptz NOT NULL
);
CREATE INDEX claims_expires_at ON {{schema}}.claims (expires_at);
