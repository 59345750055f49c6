{#- BigQuery cost controls that are configuration, not SQL. -#}

{#- Partition expiration: with `ga4_partition_expiration_days` set, BigQuery drops each
    partition of the partitioned models that many days after its date (retention at no query
    cost). Null (the default) keeps every partition. BigQuery only: DuckDB has no partitions. -#}
{% macro truffle_partition_expiration_days() -%}
    {{ return(adapter.dispatch('truffle_partition_expiration_days', 'random_truffle')()) }}
{%- endmacro %}

{% macro default__truffle_partition_expiration_days() -%}
    {{ return(none) }}
{%- endmacro %}

{% macro bigquery__truffle_partition_expiration_days() -%}
    {%- set days = var('ga4_partition_expiration_days', none) -%}
    {%- if days is none or days | string | trim in ('', 'none', 'None', 'null') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if not modules.re.match('^[0-9]+$', days | string | trim) or days | int < 1 -%}
        {{ exceptions.raise_compiler_error("ga4_partition_expiration_days must be a whole number of days (1 or more), not '" ~ days ~ "'.") }}
    {%- endif -%}
    {{ return(days | int) }}
{%- endmacro %}


{#- The query comment dbt attaches to every query (dbt_project.yml `query-comment`). On
    BigQuery, `job-label: true` also turns each key into a job label, so the bill can be split
    by model and run: app, model (the node's name), node_id, invocation_id, target. -#}
{% macro truffle_query_comment(node) -%}
    {%- set comment = {
        'app': 'random_truffle',
        'dbt_version': dbt_version,
        'profile_name': target.get('profile_name'),
        'target_name': target.get('target_name'),
        'invocation_id': invocation_id,
    } -%}
    {%- if node is not none -%}
        {%- do comment.update({'model': node.name, 'node_id': node.unique_id, 'resource_type': node.resource_type}) -%}
    {%- endif -%}
    {{ return(tojson(comment)) }}
{%- endmacro %}
