{#- The GA4 property whose export this warehouse reads: the variable `ga4_property_id`, else
    the number in the export dataset's name (GA4 names it `analytics_<property id>`). Every
    row carries it (`property_id`) and every key that a second property could repeat hashes
    it: the event, the session (a `ga_session_id` and a `user_pseudo_id` are only unique
    within a property), the transaction, the item, the device map, the users' state, the
    audiences. Text, as GA4 shows it. -#}
{% macro ga4_property_id() -%}
    {%- set declared = var('ga4_property_id', none) -%}
    {%- set dataset = var('ga4_dataset', '') | string -%}
    {%- set numbered = modules.re.match('^analytics_([0-9]+)$', dataset) -%}
    {%- set property_id = (declared | string | trim) if declared is not none else (numbered.group(1) if numbered else '') -%}
    {%- if not modules.re.match('^[A-Za-z0-9_-]{1,64}$', property_id) -%}
        {{ exceptions.raise_compiler_error("ga4_property_id " ~ (property_id or 'is not set') ~ (' is not a property id' if property_id else '') ~ ": set the variable ga4_property_id to the GA4 property's id (digits, letters, '-' or '_'), or name the export dataset analytics_<property id>.") }}
    {%- endif -%}
    {{ return(property_id) }}
{%- endmacro %}

{#- SQL: the property id as a text literal (ga4_property_id). -#}
{% macro ga4_property_id_literal() -%}
    {{ return('cast(' ~ truffle_string_literal(ga4_property_id()) ~ ' as ' ~ truffle_type('string') ~ ')') }}
{%- endmacro %}
