{#- A predicate on a table's partition column that keeps every partition. BigQuery rejects any
    query (and DML) on a table with require_partition_filter (the events mart) unless it
    filters the partition column in a way the pruner can use; this is that filter. Other
    engines have no such rule: none (callers then add nothing, or `true`). -#}
{% macro truffle_every_partition_filter(column) -%}
    {{ return(adapter.dispatch('truffle_every_partition_filter', 'random_truffle')(column)) }}
{%- endmacro %}

{% macro default__truffle_every_partition_filter(column) -%}
    {{ return(none) }}
{%- endmacro %}

{% macro bigquery__truffle_every_partition_filter(column) -%}
    {{ return(column ~ " >= date '1900-01-01'") }}
{%- endmacro %}


{#- The partition column of the model built at a relation, when that model requires a
    partition filter; none otherwise. -#}
{% macro truffle_required_partition_column(relation) -%}
    {%- if execute and relation is not string and relation.identifier -%}
        {%- for node in graph.nodes.values() -%}
            {%- if node.resource_type == 'model'
                and node.config.get('require_partition_filter')
                and node.config.get('partition_by')
                and (node.database or '') | lower == (relation.database or '') | lower
                and (node.schema or '') | lower == (relation.schema or '') | lower
                and (node.alias or node.name) | lower == relation.identifier | lower -%}
                {{ return(node.config.get('partition_by').get('field')) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}


{#- dbt's data tests read the tested model through get_where_subquery. On BigQuery, a model
    with require_partition_filter is read with the every-partition filter added (to the
    test's own `where`, if any), or BigQuery refuses the test query. -#}
{% macro bigquery__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set partition_column = truffle_required_partition_column(relation) -%}
    {%- if partition_column -%}
        {%- set every = truffle_every_partition_filter(partition_column) -%}
        {%- set where = '(' ~ where ~ ') and ' ~ every if where else every -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}
