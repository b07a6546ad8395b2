# mintgate — two commands for a new user: `make run` and `make test`.
# Bun comes from the npm registry (the `bun` package) when it is not on PATH,
# installed into ./tools so nothing is fetched from anywhere else.

BUN_VERSION := 1.4.5
TOOLS_BUN   := tools/node_modules/.bin/bun
BUN         := $(shell command -v bun 2>/dev/null || echo $(TOOLS_BUN))
BINARY      := dist/mintgate
SOURCES     := $(shell find src tui -type f -name '*.ts' -o -type f -name '*.tsx' -o -type f -name '*.sql' 2>/dev/null) package.json bun.lock

.PHONY: run test build bench clean install typecheck

run: build
	./$(BINARY) serve --demo

test: build
	$(BUN) test/run.ts

build: $(BINARY)

$(BINARY): node_modules/.installed $(SOURCES)
	@mkdir -p dist
	$(BUN) src/build/compile.ts $(BINARY)

bench: build
	$(BUN) bench/startup.ts && $(BUN) bench/gateway.ts && $(BUN) bench/audit.ts

typecheck: node_modules/.installed
	$(BUN) x tsc --noEmit

install: node_modules/.installed

node_modules/.installed: package.json bun.lock | $(BUN)
	$(BUN) install --frozen-lockfile
	@touch $@

$(TOOLS_BUN):
	@echo "bun is not on PATH; installing bun@$(BUN_VERSION) from the npm registry into ./tools"
	@# npm 11 asks a project to allow a dependency's install script (bun's puts its native binary in place) and is to block unlisted ones.
	@mkdir -p tools && echo 'allow-scripts=bun' > tools/.npmrc
	npm install --prefix tools --no-audit --no-fund --no-save bun@$(BUN_VERSION)

# Never removes ./.mintgate: it holds the master key and the database.
clean:
	rm -rf dist tools node_modules
