-- A generation number per account, bumped by triggers whenever any of the
-- rows a reset start reads for that account changes — whoever writes them:
-- this gateway, another one on the same file, or the CLI. The gateway keeps
-- those reads in memory (gateway/src/store/durable/sqlite/read_model.rs) and
-- a start reads only the generation to know whether its copy is current.
-- The name '' stands for the global feature counts (scope '').
--
-- A generation only grows: rows here are never deleted, so a name deleted
-- and created again gets a new one.
CREATE TABLE account_generations (
    username   TEXT PRIMARY KEY NOT NULL,
    generation INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TRIGGER users_generation_insert AFTER INSERT ON users BEGIN
    INSERT INTO account_generations (username, generation) VALUES (NEW.username, 1)
    ON CONFLICT (username) DO UPDATE SET generation = generation + 1;
END;
CREATE TRIGGER users_generation_update AFTER UPDATE ON users BEGIN
    INSERT INTO account_generations (username, generation) VALUES (OLD.username, 1)
    ON CONFLICT (username) DO UPDATE SET generation = generation + 1;
    INSERT INTO account_generations (username, generation) VALUES (NEW.username, 1)
    ON CONFLICT (username) DO UPDATE SET generation = generation + 1;
END;
CREATE TRIGGER users_generation_delete AFTER DELETE ON users BEGIN
    INSERT INTO account_generations (username, generation) VALUES (OLD.username, 1)
    ON CONFLICT (username) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER factors_generation_insert AFTER INSERT ON factors BEGIN
    INSERT INTO account_generations (username, generation) VALUES (NEW.username, 1)
    ON CONFLICT (username) DO UPDATE SET generation = generation + 1;
END;
CREATE TRIGGER factors_generation_update AFTER UPDATE ON factors BEGIN
    INSERT INTO account_generations (username, generation) VALUES (OLD.username, 1)
    ON CONFLICT (username) DO UPDATE SET generation = generation + 1;
    INSERT INTO account_generations (username, generation) VALUES (NEW.username, 1)
    ON CONFLICT (username) DO UPDATE SET generation = generation + 1;
END;
CREATE TRIGGER factors_generation_delete AFTER DELETE ON factors BEGIN
    INSERT INTO account_generations (username, generation) VALUES (OLD.username, 1)
    ON CONFLICT (username) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER account_locks_generation_insert AFTER INSERT ON account_locks BEGIN
    INSERT INTO account_generations (username, generation) VALUES (NEW.username, 1)
    ON CONFLICT (username) DO UPDATE SET generation = generation + 1;
END;
CREATE TRIGGER account_locks_generation_update AFTER UPDATE ON account_locks BEGIN
    INSERT INTO account_generations (username, generation) VALUES (OLD.username, 1)
    ON CONFLICT (username) DO UPDATE SET generation = generation + 1;
    INSERT INTO account_generations (username, generation) VALUES (NEW.username, 1)
    ON CONFLICT (username) DO UPDATE SET generation = generation + 1;
END;
CREATE TRIGGER account_locks_generation_delete AFTER DELETE ON account_locks BEGIN
    INSERT INTO account_generations (username, generation) VALUES (OLD.username, 1)
    ON CONFLICT (username) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER account_events_generation_insert AFTER INSERT ON account_events BEGIN
    INSERT INTO account_generations (username, generation) VALUES (NEW.username, 1)
    ON CONFLICT (username) DO UPDATE SET generation = generation + 1;
END;
CREATE TRIGGER account_events_generation_update AFTER UPDATE ON account_events BEGIN
    INSERT INTO account_generations (username, generation) VALUES (OLD.username, 1)
    ON CONFLICT (username) DO UPDATE SET generation = generation + 1;
    INSERT INTO account_generations (username, generation) VALUES (NEW.username, 1)
    ON CONFLICT (username) DO UPDATE SET generation = generation + 1;
END;
CREATE TRIGGER account_events_generation_delete AFTER DELETE ON account_events BEGIN
    INSERT INTO account_generations (username, generation) VALUES (OLD.username, 1)
    ON CONFLICT (username) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER known_devices_generation_insert AFTER INSERT ON known_devices BEGIN
    INSERT INTO account_generations (username, generation) VALUES (NEW.username, 1)
    ON CONFLICT (username) DO UPDATE SET generation = generation + 1;
END;
CREATE TRIGGER known_devices_generation_update AFTER UPDATE ON known_devices BEGIN
    INSERT INTO account_generations (username, generation) VALUES (OLD.username, 1)
    ON CONFLICT (username) DO UPDATE SET generation = generation + 1;
    INSERT INTO account_generations (username, generation) VALUES (NEW.username, 1)
    ON CONFLICT (username) DO UPDATE SET generation = generation + 1;
END;
CREATE TRIGGER known_devices_generation_delete AFTER DELETE ON known_devices BEGIN
    INSERT INTO account_generations (username, generation) VALUES (OLD.username, 1)
    ON CONFLICT (username) DO UPDATE SET generation = generation + 1;
END;

-- Feature counts: the scope is the account ('' for the global counts).
CREATE TRIGGER feature_counts_generation_insert AFTER INSERT ON feature_counts BEGIN
    INSERT INTO account_generations (username, generation) VALUES (NEW.scope, 1)
    ON CONFLICT (username) DO UPDATE SET generation = generation + 1;
END;
CREATE TRIGGER feature_counts_generation_update AFTER UPDATE ON feature_counts BEGIN
    INSERT INTO account_generations (username, generation) VALUES (OLD.scope, 1)
    ON CONFLICT (username) DO UPDATE SET generation = generation + 1;
    INSERT INTO account_generations (username, generation) VALUES (NEW.scope, 1)
    ON CONFLICT (username) DO UPDATE SET generation = generation + 1;
END;
CREATE TRIGGER feature_counts_generation_delete AFTER DELETE ON feature_counts BEGIN
    INSERT INTO account_generations (username, generation) VALUES (OLD.scope, 1)
    ON CONFLICT (username) DO UPDATE SET generation = generation + 1;
END;
