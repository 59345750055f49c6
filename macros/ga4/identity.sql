{#- Retroactive stitching (pitfall 13) for rows outside the re-processed window: when a device
    logs in for the first time, its earlier anonymous rows in older partitions take the user's
    id too; when the device map no longer holds a device's login (a rewritten export day
    removed it, or another user logged in first), its anonymous rows take the map's answer
    again: the device's current user, else the device itself. So every path ends where a full
    build of the current export ends. Runs as a post-hook of every model that stores
    unified_user_id, inside the model's transaction; a no-op on a full refresh (every row was
    stitched as it was built). Only rows without a login of their own are candidates.
    `stitched_flag_column`: a boolean column marking rows whose identity came from stitching. -#}
{% macro ga4_restitch_devices(stitched_flag_column=none) -%}
    {#- referenced outside the condition so dbt records the dependency when it parses -#}
    {%- set stitched_devices = ref('int_devices_stitched') -%}
    {%- if execute and ga4_is_incremental() and not var('ga4_render_incremental', false) -%}
    {%- set device_user -%}
        (
            select stitched.user_id
            from {{ stitched_devices }} as stitched
            where stitched.user_pseudo_id = target.user_pseudo_id
        )
    {%- endset %}
    update {{ this }} as target
    set
        unified_user_id = coalesce({{ device_user }}, target.user_pseudo_id)
        {%- if stitched_flag_column %},
        {{ stitched_flag_column }} = {{ device_user }} is not null
        {%- endif %}
    where
        target.user_id is null
        and target.user_pseudo_id is not null
        and target.unified_user_id is distinct from coalesce({{ device_user }}, target.user_pseudo_id)
        {%- set partition_by = config.get('partition_by') -%}
        {%- set every_partition = truffle_every_partition_filter('target.' ~ partition_by.field)
            if partition_by and config.get('require_partition_filter') else none -%}
        {%- if every_partition %}
        and {{ every_partition }}
        {%- endif %}
    {%- else -%}
    select 1 as nothing_to_restitch
    {%- endif -%}
{%- endmacro %}
