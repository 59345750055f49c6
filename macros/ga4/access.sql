{#- Who reads which property's rows, generated from the declaration (README, "Several
    properties"). BigQuery: row access policies on every stored table, a post-hook of each
    model (dbt_project.yml) that runs after the model's every write:
    - `truffle_every_property`, the TRUE filter, granted to `ga4_all_properties_readers`: they
      read every row, and the account dbt runs as must be one of them (BigQuery's MERGE and
      DELETE need the TRUE filter);
    - `truffle_property_<id>`, `property_id = '<id>'`, granted to that property's `readers`,
      on every table with a property_id;
    - a table without a property_id holds every property's rows (the erasure and retention
      ledgers) and gets the TRUE filter only, so a property's reader reads none of it; the
      shared ones (`ga4_shared_relations`: reference data) get no policy.
    Nothing is generated until some principal is declared: one property without readers is
    as before. The writes keep the policies: a nightly's MERGEs are DML, and the tables that
    would be replaced whole are replaced by a MERGE too while policies are declared
    (ga4_table_materialization). A full refresh re-creates each table, and its post-hook
    then re-creates the policies.
    DuckDB has no grants: `truffle query --property ID` restricts a reader there. -#}
{% macro ga4_row_access_policies() -%}
    {{ return(adapter.dispatch('ga4_row_access_policies', 'random_truffle')()) }}
{%- endmacro %}

{% macro default__ga4_row_access_policies() -%}
    {%- if ga4_access_declared() -%}
        {{ exceptions.raise_compiler_error("Readers are declared (ga4_properties readers, ga4_all_properties_readers): row access policies are generated for BigQuery only; on " ~ target.type ~ " leave them out.") }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{% macro duckdb__ga4_row_access_policies() -%}
    {#- no grants in an embedded file: truffle query --property restricts a reader -#}
    {{ return('') }}
{%- endmacro %}

{% macro bigquery__ga4_row_access_policies() -%}
    {%- if not execute or not ga4_access_declared() or config.get('materialized') not in ('table', 'incremental', 'seed') -%}
        {{ return('') }}
    {%- endif -%}
    {%- if this.identifier | lower in ga4_shared_relation_names() -%}
        {{ return('') }}
    {%- endif -%}
    {%- set everyone = ga4_all_properties_readers() -%}
    {%- set statements = [ga4_row_access_policy('truffle_every_property', everyone, 'true')] -%}
    {#- the table as written (a metadata lookup, no data read): whether it has a property_id -#}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {%- if 'property_id' in columns -%}
        {%- for property in ga4_properties() -%}
            {%- set name = 'truffle_property_' ~ property.property_id | replace('-', '_') -%}
            {%- if property.readers -%}
                {%- do statements.append(ga4_row_access_policy(name, property.readers, 'property_id = ' ~ truffle_string_literal(property.property_id))) -%}
            {%- else -%}
                {%- do statements.append('drop row access policy if exists ' ~ name ~ ' on ' ~ this) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(statements | join(';\n') ~ ';') }}
{%- endmacro %}

{#- SQL: one row access policy on the model's table. -#}
{% macro ga4_row_access_policy(name, principals, condition) -%}
    {%- set grantees = [] -%}
    {%- for principal in principals -%}
        {%- do grantees.append(truffle_string_literal(principal)) -%}
    {%- endfor -%}
    {{ return('create or replace row access policy ' ~ name ~ ' on ' ~ this ~ '\ngrant to (' ~ grantees | join(', ') ~ ')\nfilter using (' ~ condition ~ ')') }}
{%- endmacro %}

{#- The principals who read every property's rows (the variable ga4_all_properties_readers),
    checked. -#}
{% macro ga4_all_properties_readers() -%}
    {{ return(ga4_checked_principals(var('ga4_all_properties_readers', none) or [], 'ga4_all_properties_readers')) }}
{%- endmacro %}

{#- Whether any reader is declared: then every stored table carries policies (BigQuery), and
    the TRUE filter needs its readers (the account dbt runs as among them). -#}
{% macro ga4_access_declared() -%}
    {%- set everyone = ga4_all_properties_readers() -%}
    {%- set readers = [] -%}
    {%- for property in ga4_properties() if property.readers -%}
        {%- do readers.append(property.property_id) -%}
    {%- endfor -%}
    {%- if readers and not everyone -%}
        {{ exceptions.raise_compiler_error("Property " ~ readers | first ~ " declares readers but ga4_all_properties_readers is empty: list who reads every property's rows, the account dbt runs as among them (BigQuery's MERGE and DELETE need every row).") }}
    {%- endif -%}
    {{ return(everyone or readers) }}
{%- endmacro %}

{#- The relations that hold no property's data (the variable ga4_shared_relations, which the
    CLI's restricted query reads too), lowercase. -#}
{% macro ga4_shared_relation_names() -%}
    {%- set names = var('ga4_shared_relations', none) or [] -%}
    {%- if names is string or names is mapping -%}
        {{ exceptions.raise_compiler_error("ga4_shared_relations must be a list of relation names, not " ~ (names | string)[:60]) }}
    {%- endif -%}
    {{ return(names | map('string') | map('lower') | list) }}
{%- endmacro %}

{#- The materialization of a table rebuilt whole on every run: `table`, except on BigQuery
    while row access policies are declared, where a re-created table would have none until
    its post-hook re-creates them. There it is `incremental`, and its every run replaces the
    rows with one MERGE (DML keeps the policies; bq_generate_incremental_build_sql, for
    `meta.replaced_whole`). -#}
{% macro ga4_table_materialization() -%}
    {%- if target.type == 'bigquery' and ga4_access_declared() -%}
        {{ return('incremental') }}
    {%- endif -%}
    {{ return('table') }}
{%- endmacro %}
