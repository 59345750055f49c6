{#- GA4's default channel group, reduced to the rules that source and medium decide
    (Google's "[GA4] Default channel group" definitions; campaign-name and source-category
    lists are left out). Used when the export has no last-click channel group of its own. -#}
{% macro ga4_default_channel_group(source, medium) -%}
    case
        when {{ source }} = '(direct)' and {{ medium }} in ('(none)', '(not set)') then 'Direct'
        when {{ medium }} in ('cpc', 'ppc', 'paid', 'paidsearch')
            and {{ truffle_regexp_contains(source, 'google|bing|yahoo|baidu|duckduckgo|yandex|ecosia') }}
            then 'Paid Search'
        when {{ truffle_regexp_contains(medium, '^(.*cp.*|ppc|retargeting|paid.*)$') }}
            and {{ truffle_regexp_contains(source, 'facebook|instagram|linkedin|pinterest|reddit|tiktok|twitter|x\\.com') }}
            then 'Paid Social'
        when {{ medium }} in ('display', 'banner', 'expandable', 'interstitial', 'cpm') then 'Display'
        when {{ truffle_regexp_contains(medium, '^(.*cp.*|ppc|retargeting|paid.*)$') }} then 'Paid Other'
        when {{ medium }} = 'organic' then 'Organic Search'
        when {{ medium }} in ('social', 'social-network', 'social-media', 'sm', 'social network', 'social media')
            or {{ truffle_regexp_contains(source, 'facebook|instagram|linkedin|pinterest|reddit|tiktok|twitter|x\\.com') }}
            then 'Organic Social'
        when {{ truffle_regexp_contains(medium, 'email|e-mail|e_mail|e mail') }} then 'Email'
        when {{ medium }} = 'affiliate' then 'Affiliates'
        when {{ medium }} in ('referral', 'app', 'link') then 'Referral'
        when {{ medium }} in ('audio') then 'Audio'
        when {{ medium }} in ('sms') then 'SMS'
        when {{ truffle_regexp_contains(medium, '(mobile|notification|push)$') }} then 'Mobile Push Notifications'
        else 'Unassigned'
    end
{%- endmacro %}
