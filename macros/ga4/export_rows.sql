{#- The GA4 export rows of the window, with the canonical columns (export_columns.sql) plus
    `event_params` and `user_properties` (canonical type: [{key, value: {string_value,
    int_value, float_value, double_value}}], empty where the export has none), `items` (the
    ecommerce items; canonical on DuckDB, items.sql), `item_count`, `raw_record` (the text of a record that
    could not be parsed, else null), `source_table_suffix` (YYYYMMDD), `is_intraday`,
    `source_file` and `source_row_number` (with source_file, a row locator that
    truffle_deduplicate matches on, the same on every read of the export: the row's position
    in a Parquet file, its rank by text in a JSON file; null on BigQuery, which has none).
    Only the window's shards are read (pitfall 14). `property`: the property whose export
    (ga4_properties: a folder on DuckDB, a dataset on BigQuery) is read; `source_relation`:
    the source of the property declared by the single-export variables. -#}
{% macro ga4_export_rows(source_relation, property) -%}
    {{ return(adapter.dispatch('ga4_export_rows', 'random_truffle')(source_relation, property)) }}
{%- endmacro %}

{% macro default__ga4_export_rows(source_relation, property) -%}
    {{ exceptions.raise_compiler_error("ga4_export_rows has no implementation for adapter '" ~ target.type ~ "'.") }}
{%- endmacro %}


{#- Newer export columns: absent from older properties' exports (pitfall 7). -#}
{% macro ga4_newer_columns() -%}
    {{ return(['collected_traffic_source', 'is_active_user', 'batch_event_index', 'batch_page_id', 'batch_ordering_id', 'session_traffic_source_last_click']) }}
{%- endmacro %}

{#- The window as table suffixes: (first 'YYYYMMDD' or none, last 'YYYYMMDD' or none). -#}
{% macro ga4_window_suffixes() -%}
    {%- set window = ga4_window() -%}
    {{ return([
        window.start.strftime('%Y%m%d') if window.start else none,
        window.end.strftime('%Y%m%d') if window.end else none,
    ]) }}
{%- endmacro %}


{# ---------------------------------------------------------------- BigQuery ---- #}

{#- A property's export dataset, quoted for SQL: `project`.dataset. -#}
{% macro ga4_bigquery_export_dataset(property) -%}
    {{ return('`' ~ (property.project or target.project) ~ '`.' ~ property.dataset) }}
{%- endmacro %}

{#- The `events_*` wildcard of a property's export: the source (`source_relation`) for the
    property of the single-export variables, its declared dataset's for the others. -#}
{% macro ga4_bigquery_export_relation(source_relation, property) -%}
    {%- if not property.declared -%}
        {{ return(source_relation) }}
    {%- endif -%}
    {{ return(api.Relation.create(database=property.project or target.project, schema=property.dataset, identifier='events_*')) }}
{%- endmacro %}

{% macro bigquery__ga4_export_rows(source_relation, property) -%}
    {#- The export schema is declared (no metadata query): a wildcard table has the schema of
        its newest shard, so the newer columns exist whenever the newest day has them. -#}
    {%- set tree = ga4_export_path_tree() -%}
    {%- set columns = {} -%}
    {%- for name, children in tree.items() -%}
        {%- if var('ga4_bigquery_has_newer_columns', true) or name not in ga4_newer_columns() -%}
            {%- do children.pop('browser', none) if name == 'device' -%}
            {%- do children.pop('browser_version', none) if name == 'device' -%}
            {%- do columns.update({name: ga4_duckdb_struct_text(children)}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set first, last = ga4_window_suffixes() -%}
    select
        {{- ga4_export_select_list(columns) }}
        event_params,
        user_properties,
        items,
        array_length(items) as item_count,
        cast(null as string) as raw_record,
        regexp_extract(_table_suffix, r'([0-9]{8})$') as source_table_suffix,
        starts_with(_table_suffix, 'intraday_') as is_intraday,
        concat('events_', _table_suffix) as source_file,
        cast(null as int64) as source_row_number
    from {{ ga4_bigquery_export_relation(source_relation, property) }}
    {#- Daily and intraday shards only: never events_fresh_* (pitfall 4). Always a constant
        _table_suffix range, which BigQuery prunes shards by (a full build without a start
        date too: every daily and every intraday shard, nothing else), then the exact form. -#}
    {%- set first = first or '00000000' -%}
    {%- set last = last or '99999999' %}
    where
        (
            _table_suffix between '{{ first }}' and '{{ last }}'
            or _table_suffix between 'intraday_{{ first }}' and 'intraday_{{ last }}'
        )
        and regexp_contains(_table_suffix, r'^(intraday_)?[0-9]{8}$')
{%- endmacro %}


{# ------------------------------------------------------------------ DuckDB ---- #}

{#- A GA4 export file name: events_YYYYMMDD or events_intraday_YYYYMMDD (GA4's table names,
    exactly), then .parquet, .json, .ndjson or .jsonl in any case (the extension is whatever
    the export tool wrote: events_20261127.PARQUET is read). Groups: intraday_, day,
    extension. The CLI matches the same names (orchestrate/run_dates.py SHARD) and names each
    file of the folder that does not match. -#}
{% macro ga4_export_file_pattern() -%}
    {{ return(modules.re.compile('^events_(intraday_)?([0-9]{8})\\.((?i:parquet|json|ndjson|jsonl))$')) }}
{%- endmacro %}

{#- Every export file of a property's folder (ga4_properties: its export_path):
    [{'path', 'name', 'suffix', 'format'}], sorted; when it has none, an error naming the
    folder (`required`), else an empty list. -#}
{% macro ga4_duckdb_export_listing(property, required=true) -%}
    {%- set root = property.export_path | string -%}
    {%- set listing = run_query("select file from glob(" ~ truffle_string_literal(root.rstrip('/') ~ '/events_*') ~ ") order by file") -%}
    {%- set pattern = ga4_export_file_pattern() -%}
    {%- set files = [] -%}
    {%- for row in listing.rows -%}
        {%- set path = row[0] -%}
        {%- set name = path.replace('\\', '/').split('/')[-1] -%}
        {%- set match = pattern.match(name) -%}
        {%- if match -%}
            {%- do files.append({'path': path, 'name': name, 'suffix': match.group(2),
                                 'format': 'parquet' if match.group(3).lower() == 'parquet' else 'json'}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if required and files | length == 0 -%}
        {%- set variable = ("the export_path of property " ~ property.property_id ~ " in ga4_properties") if property.declared else 'the variable ga4_export_path' -%}
        {{ exceptions.raise_compiler_error("No GA4 export files (events_YYYYMMDD.parquet / .json / .ndjson) found in '" ~ root ~ "'. Point " ~ variable ~ " at your export folder, or run `truffle demo-data` to generate one.") }}
    {%- endif -%}
    {{ return(files) }}
{%- endmacro %}

{#- A property's export files of the window: [{'path', 'name', 'suffix', 'format'}], sorted. -#}
{% macro ga4_duckdb_export_files(property) -%}
    {%- set first, last = ga4_window_suffixes() -%}
    {%- set files = [] -%}
    {%- for file in ga4_duckdb_export_listing(property) -%}
        {%- if (not first or file.suffix >= first) and (not last or file.suffix <= last) -%}
            {%- do files.append(file) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(files) }}
{%- endmacro %}

{#- DuckDB type text of the canonical event_params list. -#}
{% macro ga4_duckdb_params_type(leaf_int='BIGINT', leaf_float='DOUBLE') -%}
    STRUCT("key" VARCHAR, "value" STRUCT(string_value VARCHAR, int_value {{ leaf_int }}, float_value {{ leaf_float }}, double_value {{ leaf_float }}))[]
{%- endmacro %}

{#- JSON exports carry INT64 (and often FLOAT) as strings and omit whatever is null: read them
    with a declared schema of text leaves (no sampling guesses, no "NULL" types), cast later. -#}
{% macro ga4_export_path_tree() -%}
    {%- set tree = {} -%}
    {%- for column in ga4_export_columns() -%}
        {%- for path in column.paths -%}
            {%- set cursor = namespace(node=tree) -%}
            {%- for part in path.split('.') -%}
                {%- if part not in cursor.node -%}{%- do cursor.node.update({part: {}}) -%}{%- endif -%}
                {%- set cursor.node = cursor.node[part] -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(tree) }}
{%- endmacro %}

{% macro ga4_duckdb_json_columns() -%}
    {%- set tree = ga4_export_path_tree() -%}
    {%- set rendered = [] -%}
    {%- for name, children in tree.items() -%}
        {%- do rendered.append("'" ~ name ~ "': '" ~ ga4_duckdb_struct_text(children) ~ "'") -%}
    {%- endfor -%}
    {%- for name in ['event_params', 'user_properties'] -%}
        {%- do rendered.append("'" ~ name ~ "': '" ~ ga4_duckdb_params_type('VARCHAR', 'VARCHAR') ~ "'") -%}
    {%- endfor -%}
    {%- do rendered.append("'items': 'JSON[]'") -%}
    {{ return('{' ~ rendered | join(', ') ~ '}') }}
{%- endmacro %}

{#- The same declared schema as a json_transform structure (JSON text, VARCHAR leaves). -#}
{% macro ga4_duckdb_json_structure() -%}
    {%- set tree = ga4_export_path_tree() -%}
    {%- set rendered = [] -%}
    {%- for name, children in tree.items() -%}
        {%- do rendered.append('"' ~ name ~ '": ' ~ ga4_duckdb_structure_text(children)) -%}
    {%- endfor -%}
    {%- for name in ['event_params', 'user_properties'] -%}
        {%- do rendered.append('"' ~ name ~ '": [{"key": "VARCHAR", "value": {"string_value": "VARCHAR", "int_value": "VARCHAR", "float_value": "VARCHAR", "double_value": "VARCHAR"}}]') -%}
    {%- endfor -%}
    {%- do rendered.append('"items": ["JSON"]') -%}
    {{ return('{' ~ rendered | join(', ') ~ '}') }}
{%- endmacro %}

{% macro ga4_duckdb_structure_text(children) -%}
    {%- if children | length == 0 -%}
        {{- '"VARCHAR"' -}}
    {%- else -%}
        {%- set fields = [] -%}
        {%- for name, grandchildren in children.items() -%}
            {%- do fields.append('"' ~ name ~ '": ' ~ ga4_duckdb_structure_text(grandchildren)) -%}
        {%- endfor -%}
        {{- '{' ~ fields | join(', ') ~ '}' -}}
    {%- endif -%}
{%- endmacro %}

{% macro ga4_duckdb_struct_text(children) -%}
    {%- if children | length == 0 -%}
        {{- 'VARCHAR' -}}
    {%- else -%}
        {%- set fields = [] -%}
        {%- for name, grandchildren in children.items() -%}
            {%- do fields.append('"' ~ name ~ '" ' ~ ga4_duckdb_struct_text(grandchildren)) -%}
        {%- endfor -%}
        {{- 'STRUCT(' ~ fields | join(', ') ~ ')' -}}
    {%- endif -%}
{%- endmacro %}

{#- A key/value list column (event_params, user_properties) in the canonical type: as it is
    when it already has it; text or odd leaf types (JSON exports, hostile files, the
    user_properties' extra set_timestamp_micros) rebuilt; an absent column an empty list. -#}
{% macro ga4_duckdb_canonical_params(name, columns) -%}
    {%- if columns.get(name) == ga4_duckdb_params_type() -%}
        {{ name }}
    {%- elif name not in columns -%}
        cast([] as {{ ga4_duckdb_params_type() }})
    {%- else -%}
        {{ ga4_duckdb_params_cast(name) }}
    {%- endif -%}
{%- endmacro %}

{#- A key/value list expression rebuilt in the canonical type, leaf by leaf. -#}
{% macro ga4_duckdb_params_cast(expression) -%}
    list_transform({{ expression }}, lambda p: {
        'key': cast(p.key as varchar),
        'value': {
            'string_value': cast(p.value.string_value as varchar),
            'int_value': try_cast(p.value.int_value as bigint),
            'float_value': try_cast(p.value.float_value as double),
            'double_value': try_cast(p.value.double_value as double)
        }
    })
{%- endmacro %}

{% macro ga4_duckdb_file_list(files) -%}
    [{%- for file in files -%}{{ truffle_string_literal(file.path) }}{{ ', ' if not loop.last }}{%- endfor -%}]
{%- endmacro %}

{#- One select over a group of files of the same format. -#}
{% macro ga4_duckdb_scan(files, file_format) -%}
    {%- if file_format == 'parquet' -%}
        {%- set reader = "read_parquet(" ~ ga4_duckdb_file_list(files) ~ ", union_by_name = true, filename = true, file_row_number = true)" -%}
    {%- elif file_format == 'ndjson' -%}
        {#- Newline-delimited JSON is read line by line: a valid line is parsed with the declared
            schema, a malformed one (or valid JSON that is not an object) stays a row (its text
            in raw_record) to be quarantined, rather than failing the build or vanishing. Lines
            are numbered by their text, the same way on every read (see the JSON reader below). -#}
        {%- set reader -%}
        (
            select
                lines.filename,
                lines.file_row_number,
                case when lines.record is null then lines.raw_line end as raw_record,
                unnest(lines.record)
            from (
                select
                    filename,
                    row_number() over (partition by filename order by raw_line) as file_row_number,
                    raw_line,
                    case
                        when json_valid(raw_line) and json_type(raw_line) = 'OBJECT' then json_transform(raw_line, '{{ ga4_duckdb_json_structure() }}')
                    end as record
                from read_csv(
                    {{ ga4_duckdb_file_list(files) }}, columns = {'raw_line': 'VARCHAR'}, header = false,
                    delim = chr(30), quote = '', escape = '', auto_detect = false, filename = true,
                    max_line_size = 100000000
                )
                where trim(raw_line) != ''
            ) as lines
        )
        {%- endset -%}
    {%- else -%}
        {#- read_csv and read_json have no file_row_number: the rows of each file are numbered
            by their text, the same way on every read (the dedup reads the export twice); rows
            of equal text are equal rows, so which of them gets which number does not matter -#}
        {%- set reader = "(select *, row_number() over (partition by filename order by cast(to_json(json_rows) as varchar)) as file_row_number from read_json(" ~ ga4_duckdb_file_list(files) ~ ", columns = " ~ ga4_duckdb_json_columns() ~ ", filename = true) as json_rows)" -%}
    {%- endif -%}
    {%- set columns = {} -%}
    {%- for row in run_query("describe select * from " ~ reader).rows -%}
        {%- do columns.update({row[0]: row[1]}) -%}
    {%- endfor -%}
    select
        {{- ga4_export_select_list(columns) }}
        {{ ga4_duckdb_canonical_params('event_params', columns) }} as event_params,
        {{ ga4_duckdb_canonical_params('user_properties', columns) }} as user_properties,
        {{ ga4_duckdb_canonical_items(columns) }} as items,
        {{ 'len(items)' if 'items' in columns else 'cast(null as bigint)' }} as item_count,
        {{ 'raw_record' if 'raw_record' in columns else 'cast(null as varchar)' }} as raw_record,
        regexp_extract(regexp_extract(filename, '[^/]+$'), '^events_(intraday_)?([0-9]{8})', 2) as source_table_suffix,
        starts_with(regexp_extract(filename, '[^/]+$'), 'events_intraday_') as is_intraday,
        regexp_extract(filename, '[^/]+$') as source_file,
        file_row_number as source_row_number
    from {{ reader }}
{%- endmacro %}

{% macro duckdb__ga4_export_rows(source_relation, property) -%}
    {%- if not execute -%}
        {{ return('select 1 as parse_time_placeholder') }}
    {%- endif -%}
    {%- set files = ga4_duckdb_export_files(property) -%}
    {%- set groups = [] -%}
    {%- for file in files if file.format == 'json' -%}
        {%- set first = run_query("select left(ltrim(raw_line), 1) from read_csv(" ~ truffle_string_literal(file.path) ~ ", columns = {'raw_line': 'VARCHAR'}, header = false, delim = chr(30), quote = '', escape = '', auto_detect = false, max_line_size = 100000000) where trim(raw_line) != '' limit 1") -%}
        {%- do file.update({'format': 'json' if first.rows and first.rows[0][0] == '[' else 'ndjson'}) -%}
    {%- endfor -%}
    {%- for file_format in ['parquet', 'ndjson', 'json'] -%}
        {%- set group = files | selectattr('format', 'equalto', file_format) | list -%}
        {%- if group -%}{%- do groups.append(ga4_duckdb_scan(group, file_format)) -%}{%- endif -%}
    {%- endfor -%}
    {%- if groups -%}
        {{ groups | join('\n    union all by name\n') }}
    {%- else -%}
        {#- No shard in the window: an empty relation of the same shape. -#}
    select
        {{- ga4_export_select_list({}) }}
        cast(null as {{ ga4_duckdb_params_type() }}) as event_params,
        cast(null as {{ ga4_duckdb_params_type() }}) as user_properties,
        cast(null as {{ ga4_duckdb_items_type() }}) as items,
        cast(null as bigint) as item_count,
        cast(null as varchar) as raw_record,
        cast(null as varchar) as source_table_suffix,
        cast(null as boolean) as is_intraday,
        cast(null as varchar) as source_file,
        cast(null as bigint) as source_row_number
    where false
    {%- endif -%}
{%- endmacro %}
